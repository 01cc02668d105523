#pragma once
// Small file helpers with error messages that name the file.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace provision {

std::string read_file(const std::filesystem::path& path);
// Writes atomically (temporary file + rename) with the given permission bits,
// so a private key is never readable by others, not even briefly.
void write_file(const std::filesystem::path& path, std::string_view content, mode_t mode = 0644);

}  // namespace provision
