# Writes the bytes of IN as a C array NAME (and its length NAME_len) to OUT:
#   cmake -DIN=file.csv -DOUT=file.c -DNAME=symbol -P embed_file.cmake
# Run at build time (a custom command that depends on IN), so editing IN regenerates OUT.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
# 16 bytes a line (CMake's regexes have no {n} repeat and nine back-references).
set(line_re "")
foreach(i RANGE 1 16)
  string(APPEND line_re "0x[0-9a-f][0-9a-f],")
endforeach()
string(REGEX REPLACE "(${line_re})" "\\1\n    " body "${body}")
# A trailing NUL (not counted in NAME_len) keeps an empty file a valid array.
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by cmake/embed_file.cmake: do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n"
  "const unsigned char ${NAME}[] = {\n    ${body}0x00};\n"
  "const size_t ${NAME}_len = ${nbytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
