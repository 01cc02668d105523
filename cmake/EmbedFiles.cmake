# Generates a C++ source that holds files' contents as string literals, so the
# binaries carry the JSON Schemas they validate with and never look for them
# on disk. Run in script mode:
#   cmake -DOUTPUT=out.cpp -DNAMESPACE=ns -DDIR=dir -DPATTERN=*.json -P EmbedFiles.cmake
file(GLOB FILES "${DIR}/${PATTERN}")
list(SORT FILES)
set(body "// Generated from schemas/*.json by cmake/EmbedFiles.cmake. Do not edit.\n#include <string_view>\n#include <utility>\n\nnamespace ${NAMESPACE} {\n\nstd::string_view embedded(std::string_view name) {\n")
foreach(file IN LISTS FILES)
  get_filename_component(name "${file}" NAME)
  file(READ "${file}" content)
  string(APPEND body "  if (name == \"${name}\") return R\"EMBED(${content})EMBED\";\n")
endforeach()
string(APPEND body "  return {};\n}\n\n}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.new" "${body}")
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
