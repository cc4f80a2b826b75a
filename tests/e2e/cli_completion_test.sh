#!/usr/bin/env bash
# Completions and the man page: the checked-in scripts must equal what
# `lrb completion` prints (so they cannot drift from the verbs), pass the
# linter and the shells' own syntax checks, and complete real lines in
# bash and fish, ids included, from a real broker; the man page must
# pass mandoc's lint and name every verb, option and variable the
# binary's --help names.
set -euo pipefail
source "$(dirname "$0")/cli_lib.sh"

cli_init
cli_start_broker --activation-timeout 60s
SRC=$LRB_SOURCE_DIR
MAN="$SRC/man/lrb.1"

# ----- the files are the generator's output ---------------------------

for pair in bash:lrb.bash zsh:_lrb fish:lrb.fish; do
  shell=${pair%%:*}
  file=${pair#*:}
  "$LRB_BIN" completion "$shell" >"$E2E_DIR/$file"
  if cmp -s "$E2E_DIR/$file" "$SRC/completions/$file"; then
    pass "completions/$file equals 'lrb completion $shell'"
  else
    fail "completions/$file equals 'lrb completion $shell'" \
      "regenerate it with: lrb completion $shell >completions/$file; $(
        diff "$SRC/completions/$file" "$E2E_DIR/$file" | head -5 |
          tr '\n' ' ')"
  fi
done
check "shellcheck passes on the bash completion" \
  "$(shellcheck -s bash "$SRC/completions/lrb.bash" 2>&1 | head -5)" \
  shellcheck -s bash "$SRC/completions/lrb.bash"
check "zsh reads the zsh completion" "$(zsh -n "$SRC/completions/_lrb" 2>&1)" \
  zsh -n "$SRC/completions/_lrb"
check "fish reads the fish completion" \
  "$(fish --no-execute "$SRC/completions/lrb.fish" 2>&1)" \
  fish --no-execute "$SRC/completions/lrb.fish"

# ----- bash completes real lines --------------------------------------

# complete_bash LINE: the words bash would offer at the end of LINE
# (whose first word is the binary), sorted, on one line.
complete_bash() {
  bash -c '
    source "$1"
    read -ra COMP_WORDS <<<"$2"
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _lrb
    printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "
  ' _ "$SRC/completions/lrb.bash" "$1"
}

api POST /api/v1/reservations \
  '{"requesterID": "rome", "requestedResources": {"cpu": "1", "memory": "1Gi"}}'
rid=$(jb .id)
export LRB_BROKER=$BROKER_URL
L="$LRB_BIN"
expect_match "verbs at the top" "(^| )reserve( |$)" "$(complete_bash "$L ")"
expect_eq "a verb by its start" "get" "$(complete_bash "$L g")"
expect_eq "kinds and their aliases after get" \
  "cl cluster clusters res reservation reservations" \
  "$(complete_bash "$L get ")"
expect_eq "output formats after -o" "json name table wide yaml" \
  "$(complete_bash "$L -o ")"
expect_eq "a verb's option by its start" "--policy --priority" \
  "$(complete_bash "$L reserve --p")"
expect_eq "policies after --policy" "binpack cost random resource weighted" \
  "$(complete_bash "$L explain --policy ")"
expect_eq "cluster ids after --requester, values skipped" \
  "berlin paris rome" "$(complete_bash "$L reserve --cpu 4 --requester ")"
expect_eq "reservation ids after release" "$rid" \
  "$(complete_bash "$L release ")"
expect_eq "shells after completion" "bash fish zsh" \
  "$(complete_bash "$L completion ")"
expect_eq "files after --config" "$E2E_DIR/config" \
  "$(complete_bash "$L --config $E2E_DIR/conf")"
expect_eq "a value without a hint completes nothing" "" \
  "$(complete_bash "$L get res --phase ")"
expect_eq "--broker typed on the line is used to find ids" \
  "berlin paris rome" \
  "$(LRB_BROKER="http://127.0.0.1:$(closed_port)" \
    complete_bash "$L --broker $BROKER_URL describe cluster ")"

# ----- fish completes real lines --------------------------------------

mkdir -p "$E2E_DIR/bin"
ln -s "$LRB_BIN" "$E2E_DIR/bin/lrb"
complete_fish() {
  PATH="$E2E_DIR/bin:$PATH" fish --no-config -c \
    "source '$SRC/completions/lrb.fish'; complete -C '$1'" |
    cut -f1 | sort | paste -sd " "
}
expect_eq "fish: kinds after get" \
  "cl cluster clusters res reservation reservations" \
  "$(complete_fish "lrb get ")"
expect_eq "fish: cluster ids after describe cluster" "berlin paris rome" \
  "$(complete_fish "lrb describe cluster ")"
expect_eq "fish: formats after -o" "json name table wide yaml" \
  "$(complete_fish "lrb get clusters -o ")"

# ----- the man page ---------------------------------------------------

lint=$(mandoc -Tlint -W warning "$MAN" 2>&1) || true
expect_eq "mandoc finds nothing to warn about in the man page" "" "$lint"

# Prints the subcommands a --help lists.
subcommands_of() {
  "$LRB_BIN" "$@" --help | awk '/^Subcommands:/ { on = 1; next }
                                on && NF { print $1 }'
}

# Every verb of `lrb --help`, and every subcommand of a verb, has its
# section.
verbs=$(subcommands_of)
missing=""
for verb in $verbs; do
  grep -q "^\.SS lrb $verb\b" "$MAN" || missing+=" $verb"
  for sub in $(subcommands_of "$verb"); do
    [[ $verb == get || $verb == describe ]] && continue # kinds: one section
    grep -q "^\.SS lrb $verb $sub\b" "$MAN" || missing+=" $verb-$sub"
  done
done
expect_eq "the man page has a section for every verb" "" "$missing"

# Every long option any --help shows is documented (as \-\-name).
options=$({
  "$LRB_BIN" --help
  for verb in $verbs; do
    "$LRB_BIN" "$verb" --help
    for sub in $(subcommands_of "$verb"); do
      "$LRB_BIN" "$verb" "$sub" --help
    done
  done
} | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
missing=""
for option in $options; do
  grep -qF -- "${option//-/\\-}" "$MAN" || missing+=" $option"
done
expect_eq "the man page documents every option" "" "$missing"
missing=""
for var in $("$LRB_BIN" --help | grep -oE 'LRB_[A-Z_]+' | sort -u) \
  LRB_CLUSTER NO_COLOR; do
  grep -q "^\.B $var$" "$MAN" || missing+=" $var"
done
expect_eq "the man page's ENVIRONMENT lists every variable" "" "$missing"

summary
