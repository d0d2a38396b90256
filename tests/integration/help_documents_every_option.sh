#!/usr/bin/env bash
# `retention --help` names every command, and `retention COMMAND --help` exits 0
# and mentions every long option that command accepts: the options are read
# from the command's getopt_long table in jobs/, so a new option without help
# text fails here. `retention --version` gives the version, the build's
# revision and type, the compiler, the libraries and the migrations built in.
. "$(dirname "$0")/lib.sh"

# The commands main() dispatches, and the file defining each one's entry point.
commands=$(grep -o 'strcmp(cmd, "[a-z]*") == 0' "$SRC/jobs/main.c" | cut -d'"' -f2 |
  grep -v -x -e help -e version)
assert_match "main dispatches the known commands" \
  "^archive db hold keygen policy report run verify$" \
  "$(echo $commands | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"

top=$(retention --help)
assert_eq "retention --help exits 0" 0 "$?"
for cmd in $commands; do
  src=$(grep -l "^cmd_$cmd(int argc" "$SRC"/jobs/*.c)
  [ -n "$src" ] || die "no source file defines cmd_$cmd"
  options=$(grep -oE '\{"[a-z][a-z-]*", (no|required|optional)_argument' "$src" | cut -d'"' -f2)
  [ -n "$options" ] || die "no getopt_long options found in $src"
  assert_match "retention --help names $cmd" "retention $cmd" "$top"
  text=$(retention "$cmd" --help)
  assert_eq "retention $cmd --help exits 0" 0 "$?"
  missing=""
  for opt in $options; do
    grep -q -- "--$opt\b" <<<"$text" || missing="$missing --$opt"
  done
  assert_eq "retention $cmd --help mentions each of its options ($(echo $options | wc -w))" "" \
    "$missing"
done

# The actions answer --help too, with the command's text.
for pair in "hold add" "hold release" "hold list" "db migrate" "db grants" "archive verify" \
  "archive restore" "archive find" "report render" "policy check"; do
  set -- $pair
  text=$(retention "$1" "$2" --help)
  assert_eq "retention $pair --help exits 0" 0 "$?"
  assert_eq "retention $pair --help is the command's help" "$(retention "$1" --help)" "$text"
done
retention >/dev/null
assert_eq "no command: usage, exit 2" 2 "$?"
retention frobnicate 2>"$WORK/run.log"
assert_eq "unknown command exits 2" 2 "$?"
assert_match "... and is logged" '"message":"unknown command \\"frobnicate\\""' \
  "$(cat "$WORK/run.log")"

# The version and what the binary was built from.
version=$(retention --version)
assert_eq "retention --version exits 0" 0 "$?"
project=$(sed -n 's/^project(retention VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
assert_match "first line: version, revision, build type" \
  "^retention $project \\([^,]+, [A-Za-z]+ build\\)$" "$(sed -n 1p <<<"$version")"
assert_match "compiler" '^compiler: (gcc|clang) [0-9]' "$(sed -n 2p <<<"$version")"
libraries='^libraries: libpq [0-9]+\.[0-9]+, OpenSSL [0-9.]+.*, zlib [0-9.]+, cJSON [0-9.]+$'
assert_match "libraries" "$libraries" "$(sed -n 3p <<<"$version")"
last=$(ls "$SRC"/sql/[0-9]*.sql | sort | tail -n 1)
assert_eq "migrations built in" \
  "schema migrations built in: $(ls "$SRC"/sql/[0-9]*.sql | wc -l) (latest $(basename "$last"))" \
  "$(sed -n 4p <<<"$version")"
assert_match "fault injection named" '^fault injection points: ' "$(sed -n 5p <<<"$version")"
assert_eq "retention version is the same" "$version" "$(retention version)"
finish
