#!/bin/bash
cd "$(dirname "$0")"
for s in 2 3 4 5 6 7; do ./lab bmi100 $s > raw-bmi100-x$s.tsv 2>/dev/null; done
for s in 2 3 4 5; do ./lab bmi1000 $s > raw-bmi1000-x$s.tsv 2>/dev/null; done
for s in 3 4; do ./lab bmi-perm $s > raw-bmi-perm-x$s.tsv 2>/dev/null; done
echo done > BMIDONE
