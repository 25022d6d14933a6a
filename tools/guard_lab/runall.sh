#!/bin/bash
cd "$(dirname "$0")"
for s in 1 2; do
  for set in nonmono discrete negdense himi imd-perm bmi-perm imd-negx1 imd-negy imd oomd; do
    ./lab $set $s > raw-$set-$s.tsv 2> raw-$set-$s.err
  done
  ./lab bmi100 $((s-1)) > raw-bmi100-$s.tsv 2> raw-bmi100-$s.err
  ./lab bmi1000 $((s-1)) > raw-bmi1000-$s.tsv 2> raw-bmi1000-$s.err
done
echo done > ALLDONE
