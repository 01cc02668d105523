#include "trust_dir.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include "pki/certificate.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::plugin {
namespace {

namespace fs = std::filesystem;

struct HashedName {
  std::string hash;
  int suffix = 0;
};

// "<8 lowercase hex digits>.<n>": a certificate file as OpenSSL's hashed
// directory lookup asks for it ("%08lx.%d"; CRLs are ".r<n>", and neither
// upper case nor "01" is ever asked for, so such files are nobody's concern).
std::optional<HashedName> parse_hashed_name(const std::string& name) {
  if (name.size() < 10 || name.size() > 18 || name[8] != '.') return std::nullopt;
  for (size_t i = 0; i < 8; ++i)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return std::nullopt;
  if (name[9] == '0' && name.size() > 10) return std::nullopt;
  HashedName parsed{name.substr(0, 8), 0};
  for (size_t i = 9; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    parsed.suffix = parsed.suffix * 10 + (name[i] - '0');
  }
  return parsed;
}

std::string file_name(const std::string& hash, int suffix) { return hash + "." + std::to_string(suffix); }

// Printable on one line (the role comes from the registry).
std::string one_line(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

// What a managed file holds: the marker line (which OpenSSL's PEM reader
// skips, as it skips any text before "-----BEGIN"), then the certificate.
std::string file_content(const TrustedCa& ca, const pki::Certificate& certificate) {
  return std::string(TrustDirectory::kMarker) + " CA " + certificate.id() + " (" + one_line(ca.role) +
         ") from the provisioning registry; the broker's plugin rewrites or removes this file, do not edit\n" +
         certificate.to_pem();
}

// The file's content, or nullopt when it cannot be read (then it is not ours
// to touch either).
std::optional<std::string> try_read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return content.str();
}

}  // namespace

TrustSync TrustDirectory::sync(const std::vector<TrustedCa>& cas) const {
  TrustSync done;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    fs::create_directory(dir_, ec);
    if (ec) throw Error("cannot create the trust directory " + dir_.string() + ": " + ec.message());
  }

  // What is there, per subject hash: the suffixes that others' files take,
  // and the plugin's own files (suffix -> content).
  struct Bucket {
    std::set<int> others;
    std::map<int, std::string> managed;
  };
  std::map<std::string, Bucket> buckets;
  fs::directory_iterator it(dir_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    auto parsed = parse_hashed_name(name);
    if (!parsed) continue;
    Bucket& bucket = buckets[parsed->hash];
    std::error_code status_error;
    if (fs::is_regular_file(it->symlink_status(status_error))) {  // a symlink (openssl rehash makes them) is never ours
      auto content = try_read(it->path());
      if (content && content->starts_with(kMarker)) {
        bucket.managed[parsed->suffix] = std::move(*content);
        continue;
      }
    }
    bucket.others.insert(parsed->suffix);
  }
  if (ec) throw Error("cannot list the trust directory " + dir_.string() + ": " + ec.message());

  // What should be there: one file per certificate.
  struct Wanted {
    std::string id, content;
  };
  std::map<std::string, std::vector<Wanted>> wanted;
  std::set<std::string> seen;
  for (const auto& ca : cas) {
    try {
      auto certificate = pki::Certificate::from_pem(ca.pem);
      if (!seen.insert(certificate.id()).second) continue;
      wanted[certificate.subject_name_hash()].push_back({certificate.id(), file_content(ca, certificate)});
    } catch (const Error&) {
      done.skipped.push_back(ca.id);
    }
  }

  // Names. OpenSSL tries <hash>.0, .1, ... and stops at the first missing
  // one, so a hash's files must leave no gap: CAs that already have a file
  // keep their order (a file moves only to close a gap), new ones follow in
  // id order, each taking the lowest suffix no other file takes.
  std::map<std::string, const std::string*> layout;  // file name -> content
  for (auto& [hash, list] : wanted) {
    const Bucket& bucket = buckets[hash];
    auto current_suffix = [&](const Wanted& w) {
      for (const auto& [suffix, content] : bucket.managed)
        if (content == w.content) return suffix;
      return INT_MAX;
    };
    std::sort(list.begin(), list.end(), [&](const Wanted& a, const Wanted& b) {
      int sa = current_suffix(a), sb = current_suffix(b);
      return sa != sb ? sa < sb : a.id < b.id;
    });
    int next = 0;
    for (const auto& w : list) {
      while (bucket.others.count(next)) ++next;
      layout[file_name(hash, next++)] = &w.content;
    }
  }

  // Write first, then remove: no CA is missing while its file moves.
  for (const auto& [name, content] : layout) {
    auto parsed = parse_hashed_name(name);
    const auto& managed = buckets[parsed->hash].managed;
    auto existing = managed.find(parsed->suffix);
    if (existing != managed.end() && existing->second == *content) continue;
    write_file(dir_ / name, *content, 0644);  // a temporary file, renamed into place
    done.written.push_back(name);
  }
  for (const auto& [hash, bucket] : buckets)
    for (const auto& [suffix, content] : bucket.managed) {
      const std::string name = file_name(hash, suffix);
      if (layout.count(name)) continue;
      if (!fs::remove(dir_ / name, ec) && ec)
        throw Error("cannot remove " + (dir_ / name).string() + ": " + ec.message());
      done.removed.push_back(name);
    }
  return done;
}

}  // namespace provision::plugin
