#!/usr/bin/env bash
# libmist.so exports its public API and nothing else: every dynamic symbol it defines starts
# with mist_, every function declared in the installed headers is among them (so a version
# script that hid too much fails too), and none other is (internal mist_ helpers stay hidden). Usage: check_symbols.sh LIBMIST_SO HEADER...
set -u
lib=$1; shift
command -v nm >/dev/null || { echo "nm is missing"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sed 's/@.*//' | sort -u)
[ -n "$exported" ] || { echo "FAIL: $lib exports nothing"; exit 1; }
fail=0
others=$(grep -v '^mist_' <<<"$exported")
if [ -n "$others" ]; then
  echo "FAIL: $lib exports $(wc -l <<<"$others") symbols without the mist_ prefix:"
  head -20 <<<"$others"
  fail=1
fi
# function names declared in the headers (comment lines, macros and inline helpers skipped)
declared=$(for h in "$@"; do
  grep -vE '^[[:space:]]*(/\*|\*)|static inline|#[[:space:]]*define' "$h" |
    grep -oE '\bmist_[a-z0-9_]+\(' | tr -d '('
done | sort -u)
[ -n "$declared" ] || { echo "FAIL: no declarations found in $*"; exit 1; }
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then
  echo "FAIL: declared in the public headers but not exported:"
  echo "$missing"
  fail=1
fi
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$extra" ]; then
  echo "FAIL: exported but not declared in the public headers (internal helpers leaking):"
  head -20 <<<"$extra"
  fail=1
fi
[ $fail -eq 0 ] && echo "ok: $(wc -l <<<"$exported") symbols, all mist_; $(wc -l <<<"$declared") declared functions exported"
exit $fail
