#!/bin/sh
# SPDX-License-Identifier: MIT
# Run each unit-test binary; print a summary line and fail if any test failed.
# RUNNER, when set, prefixes each run (e.g. valgrind); SKIP lists binaries
# (base names) that cannot run under it.
passed=0
failed=0
for t in "$@"; do
	case " ${SKIP:-} " in
	*" $(basename "$t") "*)
		echo "skipped under ${RUNNER%% *}: $t"
		continue
		;;
	esac
	if ${RUNNER:-} "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAILED: $t" >&2
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
