# Turns the file IN into a C source OUT defining
# `const char store_functions_lua[]` with its bytes.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from functions.lua; do not edit. */\n"
    "extern const char store_functions_lua[];\n"
    "const char store_functions_lua[] = {${bytes}0x00};\n")
