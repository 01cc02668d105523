#pragma once
// The broker's trust directory (its `capath`), kept from the registry: every
// active CA a client certificate may chain to, one file each under OpenSSL's
// hashed name (`<subject name hash>.<n>`, as `openssl rehash` names them).
// OpenSSL reads such a directory at each TLS handshake for the CAs it has not
// seen yet, so a CA registered while the broker runs is trusted from the next
// handshake, without a restart; a CA deleted or disabled loses its file (it
// may stay in OpenSSL's cache until the broker restarts, which is why the
// plugin refuses such CAs itself). See docs/operations.md, "Trusting CAs".
//
// The directory may hold files of others: only files that begin with
// kMarker are the plugin's, and its own are numbered around the others'.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace provision::plugin {

struct TrustedCa {
  std::string id;    // certificateId, named in the file's first line
  std::string role;  // root, fleet, claim, manufacturer (also named there)
  std::string pem;
};

struct TrustSync {
  std::vector<std::string> written;  // file names (re)written
  std::vector<std::string> removed;  // managed files removed (their CA went away, or moved to another name)
  std::vector<std::string> skipped;  // CA ids whose PEM is not a certificate: no file
  bool changed() const { return !written.empty() || !removed.empty(); }
};

class TrustDirectory {
 public:
  // The first line of every file the plugin manages.
  static constexpr std::string_view kMarker = "# mosquitto_provision trust directory:";

  explicit TrustDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Makes the managed files hold exactly `cas` (creating the directory if it
  // is missing): a new file is written to a temporary name and renamed into
  // place; a file that already holds its CA is left alone. Files not the
  // plugin's are never touched. Throws Error naming the file when one cannot
  // be read, written or removed (what was done before stays done).
  TrustSync sync(const std::vector<TrustedCa>& cas) const;

  const std::filesystem::path& path() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace provision::plugin
