# Embeds the control-room page into a C file: cmake -DOUT=file.c -DSRC=dir -P embed.cmake
# Each asset becomes a byte array plus an entry of mcu_web_assets (mcu/web_assets.h).
# Every asset is UTF-8 text: the charset is added to each type.
set(ASSETS
  "/|index.html|text/html"
  "/index.html|index.html|text/html"
  "/app.js|app.js|text/javascript"
  "/app.css|app.css|text/css")
set(body "/* Generated from mcu/web by mcu/web/embed.cmake: do not edit. */\n#include \"mcu/web_assets.h\"\n\n")
set(table "")
set(i 0)
foreach(entry ${ASSETS})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 url)
  list(GET parts 1 file)
  list(GET parts 2 type)
  file(READ "${SRC}/${file}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n  " bytes "${bytes}")
  string(APPEND body "static const unsigned char asset_${i}[] = {\n  ${bytes}0};\n")
  string(APPEND table "  {\"${url}\", \"${type}; charset=utf-8\", asset_${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst mcu_http_asset_t mcu_web_assets[] = {\n${table}};\n")
string(APPEND body "const size_t mcu_web_n_assets = sizeof mcu_web_assets / sizeof mcu_web_assets[0];\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
