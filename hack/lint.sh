#!/usr/bin/env bash
# Static checks: banned unsafe C functions (as curl bans them), then cppcheck.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
srcs=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atof|gets|strncpy|strncat)\s*\('
if grep -nE "$banned" $srcs | grep -vE 'lint: allow|^[^:]+:[0-9]+: *(\*|/\*|//)'; then
  echo "lint: banned functions above (use buf_printf/str_copy/str_to_int64; see base/)"; status=1
fi
if command -v cppcheck >/dev/null; then
  cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
    --suppress=missingIncludeSystem --suppress=varFuncNullUB --inline-suppr -I. $(git ls-files '*.c') || status=1
else
  echo "lint: cppcheck not installed; skipped"
fi
[ $status -eq 0 ] && echo "lint: clean"
exit $status
