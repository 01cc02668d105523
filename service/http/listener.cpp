// http/listener.h: Boost.Beast over Boost.Asio (Debian's libboost-dev),
// with OpenSSL for TLS. Each connection is a Session on its own strand of
// the event loop; the gate's check and the route run on the worker pool and
// post their result back to the session's strand.
#include "http/listener.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/text.h"

namespace provision::service::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLingerBytes = 4 << 20;  // what is read and dropped of a refused request's body
constexpr auto kLinger = std::chrono::milliseconds(1000);

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded (a malformed escape is kept as it is); `plus`: '+' is a space.
std::string decode(std::string_view text, bool plus) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    out.emplace(decode(pair.substr(0, eq), true), eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1), true));
  }
  return out;
}

bool quietly_closed(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == bhttp::error::partial_message || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

struct Listener::Impl {
  ListenerSettings settings;
  const Gate& gate;
  Serve serve;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> running{false};
  int bound_port = -1;
  std::optional<asio::ssl::context> tls;
  // Destroyed in this order: the pool (idle once stop() joined it), the
  // acceptor, then the loop with any handler still queued (and the
  // sessions they hold, which count themselves out above).
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_pause{ioc};
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> loops;

  Impl(ListenerSettings s, const Gate& g, Serve f) : settings(std::move(s)), gate(g), serve(std::move(f)) {}

  void accept();
};

namespace {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  Session(Listener::Impl& listener, tcp::socket socket, Args&&... args)
      : listener_(listener), stream_(std::move(socket), std::forward<Args>(args)...), timer_(stream_.get_executor()) {
    beast::error_code ec;
    auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      auto address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) address = address.to_v6().to_v4();
      remote_ = address.to_string();
    }
  }

  ~Session() {
    if (counted_) --listener_.pending;
    --listener_.connections;
  }

  void start() {
    if constexpr (kTls) {
      lowest().expires_after(listener_.settings.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->close();
        self->read_header();
      });
    } else {
      read_header();
    }
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(listener_.settings.max_header_bytes));
    // Not yet: the gate refuses a declared length past the limit, after its
    // own check (a 401 comes before a 413); read_body sets it.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest().expires_after(first_ ? listener_.settings.header_timeout : listener_.settings.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (quietly_closed(ec)) return close();
      if (ec == bhttp::error::header_limit)
        return refuse({431, "RequestHeaderFieldsTooLarge",
                       "the request line and headers are larger than " + std::to_string(listener_.settings.max_header_bytes) + " bytes"},
                      true);
      return refuse({400, "InvalidRequest", "malformed HTTP request: " + ec.message()}, true);
    }
    const auto& header = parser_->get();
    request_ = Request{};
    request_.method = std::string(header.method_string());
    std::string_view target(header.target().data(), header.target().size());
    size_t question = target.find('?');
    request_.path = decode(target.substr(0, question), false);
    if (question != std::string_view::npos) request_.query = parse_query(target.substr(question + 1));
    for (const auto& field : header)
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request_.remote_addr = remote_;
    request_.received = Clock::now();
    if (++listener_.pending > listener_.settings.max_pending) {
      --listener_.pending;
      return refuse({503, "Busy", "too many requests in progress; retry after 1 s", 1}, body_unread());
    }
    counted_ = true;
    // The gate's check may look a credential up: on a worker.
    asio::post(*listener_.workers, [self = this->shared_from_this()] {
      auto verdict = self->listener_.gate.decide(self->request_);
      asio::post(self->stream_.get_executor(), [self, verdict = std::move(verdict)]() mutable { self->on_verdict(std::move(verdict)); });
    });
  }

  // Whether some of the request's body may still be on the connection: what
  // the parser expects, or what its headers announce (a transfer coding the
  // parser does not take for chunked, which the gate refuses).
  bool body_unread() const {
    if (!parser_->is_done()) return true;
    if (request_.has_header("Transfer-Encoding")) return true;
    const auto length = request_.header("Content-Length");
    return !length.empty() && length != "0";
  }

  void on_verdict(std::variant<Admitted, Refusal> verdict) {
    if (auto* refusal = std::get_if<Refusal>(&verdict)) return refuse(*refusal, body_unread());
    admitted_ = std::get<Admitted>(std::move(verdict));
    if (parser_->is_done()) return run();
    const auto& header = parser_->get();
    auto expect = header[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto go_on = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      lowest().expires_after(listener_.settings.body_timeout);
      bhttp::async_write(stream_, *go_on, [self = this->shared_from_this(), go_on](beast::error_code ec, std::size_t) {
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    parser_->body_limit(listener_.gate.settings().max_body_bytes);
    lowest().expires_after(listener_.settings.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == bhttp::error::body_limit)
          return self->refuse({413, "PayloadTooLarge",
                               "request body larger than " + std::to_string(self->listener_.gate.settings().max_body_bytes) + " bytes"},
                              true);
        if (quietly_closed(ec)) return self->close();
        return self->refuse({400, "InvalidRequest", "the request body was cut short or its chunked encoding is malformed"}, true);
      }
      self->request_.body = std::move(self->parser_->get().body());
      self->run();
    });
  }

  // The route, on a worker; its answer written when it may be.
  void run() {
    asio::post(*listener_.workers, [self = this->shared_from_this()] {
      Response response;
      try {
        response = self->listener_.serve(self->request_, self->admitted_);
      } catch (const std::exception& e) {
        spdlog::error("{} {} {}: {}", self->listener_.settings.name, text::escape(self->request_.method, 16),
                      text::escape(self->request_.path, 200), e.what());
        response = self->listener_.gate.refuse({500, "InternalError", "internal failure"});
      }
      self->listener_.gate.finish(self->request_, response);
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        if (response.not_before > Clock::now()) {
          auto held = std::make_shared<Response>(std::move(response));
          self->timer_.expires_at(held->not_before);
          self->timer_.async_wait([self, held](beast::error_code) { self->write(std::move(*held), false); });
          return;
        }
        self->write(std::move(response), false);
      });
    });
  }

  // A refusal by the gate or by this listener; `unread`: some of the body
  // was not read, so the connection is closed after the answer.
  void refuse(const Refusal& refusal, bool unread) {
    Response response = listener_.gate.refuse(refusal);
    listener_.gate.finish(request_, response);
    write(std::move(response), unread);
  }

  void write(Response response, bool close_after) {
    if (counted_) {
      counted_ = false;
      --listener_.pending;
    }
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(response.status), 11);
    for (auto& [name, value] : response.headers) out->insert(name, value);
    const bool keep = !close_after && parser_ && parser_->is_header_done() && parser_->get().keep_alive();
    out->keep_alive(keep);
    if (response.status != 204 && response.status != 304) {
      out->set(bhttp::field::content_type, response.content_type);
      const std::size_t size = response.body.size();
      if (request_.method == "HEAD") {
        out->content_length(size);
      } else {
        out->body() = std::move(response.body);
        out->prepare_payload();
      }
    }
    lowest().expires_after(listener_.settings.body_timeout);
    bhttp::async_write(stream_, *out, [self = this->shared_from_this(), out, keep, close_after](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (!keep) return self->shut(close_after);
      self->first_ = false;
      self->read_header();
    });
  }

  // Ends the connection after an answer; `linger`: the client may still be
  // sending a body, which is read and dropped for a moment so that closing
  // with unread bytes does not reset the connection before it reads the answer.
  void shut(bool linger) {
    if constexpr (kTls) {
      lowest().expires_after(kLinger);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close(); });
      (void)linger;
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (!linger || ec) return close();
      lowest().expires_after(kLinger);
      drain();
    }
  }

  void drain() {
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 16384>>();
    lowest().async_read_some(asio::buffer(*scratch_), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxLingerBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  Listener::Impl& listener_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  Admitted admitted_;
  std::string remote_;
  bool first_ = true;
  bool counted_ = false;  // counted in listener_.pending
  std::unique_ptr<std::array<char, 16384>> scratch_;
  std::size_t drained_ = 0;
};

}  // namespace

void Listener::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (!running || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors, say: wait a moment rather than spin.
      spdlog::warn("{}: accept: {}", settings.name, ec.message());
      accept_pause.expires_after(std::chrono::milliseconds(50));
      accept_pause.async_wait([this](beast::error_code) { accept(); });
      return;
    }
    if (connections.load() >= settings.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++connections;
      socket.set_option(tcp::no_delay(true), ec);
      if (tls)
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), *tls)->start();
      else
        std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket))->start();
    }
    accept();
  });
}

Listener::Listener(ListenerSettings settings, const Gate& gate, Serve serve)
    : impl_(std::make_unique<Impl>(std::move(settings), gate, std::move(serve))) {}

Listener::~Listener() { stop(); }

void Listener::start() {
  auto& s = impl_->settings;
  const std::string where = s.address + ":" + std::to_string(s.port);
  if (!s.tls_certificate.empty() && !s.tls_key.empty()) {
    try {
      impl_->tls.emplace(asio::ssl::context::tls_server);
      impl_->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                              asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      impl_->tls->use_certificate_chain_file(s.tls_certificate.string());
      impl_->tls->use_private_key_file(s.tls_key.string(), asio::ssl::context::pem);
    } catch (const std::exception& e) {
      throw Error(s.name + ": cannot use TLS certificate " + s.tls_certificate.string() + " and key " + s.tls_key.string() + ": " +
                  e.what());
    }
  }
  try {
    tcp::endpoint endpoint;
    beast::error_code ec;
    auto address = asio::ip::make_address(s.address, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, static_cast<unsigned short>(s.port));
    } else {
      tcp::resolver resolver(impl_->ioc);
      endpoint = *resolver.resolve(s.address, std::to_string(s.port)).begin();
    }
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    impl_->bound_port = impl_->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    throw Error(s.name + ": cannot listen on " + where + ": " + e.what());
  }
  impl_->workers = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(std::max(1, s.threads)));
  impl_->running = true;
  impl_->accept();
  for (int i = 0; i < std::max(1, s.io_threads); ++i) impl_->loops.emplace_back([this] { impl_->ioc.run(); });
}

void Listener::stop() {
  if (!impl_->running.exchange(false)) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_pause.cancel();
  });
  impl_->ioc.stop();
  for (auto& loop : impl_->loops) loop.join();
  impl_->loops.clear();
  impl_->workers->join();
}

int Listener::port() const { return impl_->bound_port; }

Response answer(const Gate& gate, const Listener::Serve& serve, Request request) {
  auto verdict = gate.decide(request);
  Response response;
  if (auto* refusal = std::get_if<Refusal>(&verdict)) {
    response = gate.refuse(*refusal);
  } else if (request.body.size() > gate.settings().max_body_bytes) {
    response = gate.refuse({413, "PayloadTooLarge", "request body larger than " + std::to_string(gate.settings().max_body_bytes) + " bytes"});
  } else {
    try {
      response = serve(request, std::get<Admitted>(verdict));
    } catch (const std::exception& e) {
      spdlog::error("HTTP {} {}: {}", text::escape(request.method, 16), text::escape(request.path, 200), e.what());
      response = gate.refuse({500, "InternalError", "internal failure"});
    }
  }
  gate.finish(request, response);
  return response;
}

}  // namespace provision::service::http
