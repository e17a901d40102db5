#!/bin/sh
# SPDX-License-Identifier: MIT
# Run each unit-test binary; print a summary line and fail if any test failed.
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAILED: $t" >&2
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
