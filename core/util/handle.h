#pragma once
// Owned<T, Free>: a C library's handle held by its owner, released with the
// library's own function when the owner goes away, whatever path it takes
// (return or exception). For OpenSSL (X509_free, BIO_free, ...),
// libmosquitto (mosquitto_destroy, mosquitto_free) and the C library
// (freeaddrinfo) alike:
//
//   Owned<X509, X509_free> certificate(PEM_read_bio_X509(...));
//   Owned<mosquitto, mosquitto_destroy> client(mosquitto_new(...));
//
// A null handle is never passed to `Free`.
#include <memory>

namespace provision {

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* handle) const noexcept {
    if (handle) Free(handle);
  }
};

template <typename T, auto Free>
using Owned = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace provision
