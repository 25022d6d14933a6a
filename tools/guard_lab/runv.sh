#!/bin/bash
cd "$(dirname "$0")"
for set in nonmono discrete negdense himi imd-perm imd-negx1 imd-negy imd oomd; do ./lab $set 1 > v/$set-1.tsv 2>/dev/null; done
for s in 5 6 7; do ./lab bmi100 $s > v/bmi100-x$s.tsv 2>/dev/null; done
for s in 4 5; do ./lab bmi1000 $s > v/bmi1000-x$s.tsv 2>/dev/null; done
./lab bmi-perm 4 > v/bmi-perm-x4.tsv 2>/dev/null
echo done > v/DONE
