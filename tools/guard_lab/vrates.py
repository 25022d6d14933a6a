import csv, glob
COLS = "set id task dx dy n mi lo med hi tm K Kse tk G Gb Gse tg klo khi tkb glo ghi tgb reasons answer est alo ahi tguard".split()
rows = []
for f in sorted(glob.glob('v/*.tsv')):
    for r in csv.reader(open(f), delimiter='\t'):
        d = dict(zip(COLS, r))
        for c in COLS[3:]:
            d[c] = float(d[c])
        d['reasons'] = int(d['reasons'])
        rows.append(d)
INDIST = ['imd', 'oomd', 'bmi100', 'bmi1000']
FAIL = ['nonmono', 'discrete', 'negdense', 'himi', 'imd-perm', 'bmi-perm', 'imd-negx1', 'imd-negy']
NR = 1  # n_range bit
def nan(x): return x != x
print("set        N    flag(all) flag|cov flag|miss flag|bad  [excl. n_range: all cov]  | model mse cover | guarded mse cover width")
for s in INDIST + FAIL:
    rs = [r for r in rows if r['set'] == s and not nan(r['med'])]
    if not rs: continue
    cov = [r for r in rs if r['lo'] <= r['mi'] <= r['hi']]
    miss = [r for r in rs if not (r['lo'] <= r['mi'] <= r['hi'])]
    bad = [r for r in rs if abs(r['med'] - r['mi']) > max(0.3, 0.2 * r['mi'])]
    fl = lambda L, m=~0: sum(1 for r in L if r['reasons'] & m) / max(1, len(L))
    N = len(rs)
    mm = sum((r['med'] - r['mi'])**2 for r in rs) / N; mc = sum(r['lo'] <= r['mi'] <= r['hi'] for r in rs) / N
    gm = sum((r['est'] - r['mi'])**2 for r in rs) / N; gc = sum(r['alo'] <= r['mi'] <= r['ahi'] for r in rs) / N
    gw = sum(r['ahi'] - r['alo'] for r in rs) / N
    print(f"{s:10s} {N:5d} {fl(rs):.3f}    {fl(cov):.3f}    {fl(miss):.3f}    {fl(bad):.3f} ({len(bad):3d})  [{fl(rs, ~NR):.3f} {fl(cov, ~NR):.3f}]  | {mm:8.3f} {mc:.3f} | {gm:8.3f} {gc:.3f} {gw:.3f}")
from collections import Counter
c = Counter()
for r in rows:
    if r['set'] in INDIST and r['lo'] <= r['mi'] <= r['hi']:
        for b in range(6):
            if r['reasons'] & (1 << b): c[(r['set'], b)] += 1
print(sorted(c.items()))
print()
tb = tf = 0
for s in FAIL:
    rs = [r for r in rows if r['set'] == s and not nan(r['med'])]
    bad = [r for r in rs if abs(r['med'] - r['mi']) > max(0.3, 0.2 * r['mi'])]
    f = sum(1 for r in bad if r['reasons'])
    tb += len(bad); tf += f
    print(s, f, '/', len(bad))
print('all failures', tf, '/', tb, tf / tb)
for s in INDIST:
    rs = [r for r in rows if r['set'] == s and not nan(r['med'])]
    cov = [r for r in rs if r['lo'] <= r['mi'] <= r['hi']]
    print(s, 'cov flagged (excl n_range)', sum(1 for r in cov if r['reasons'] & ~1), '/', len(cov), ' all flagged excl n', sum(1 for r in rs if r['reasons'] & ~1), '/', len(rs))
# bmi-perm 2pair
rs = [r for r in rows if r['set'] == 'bmi-perm' and '2pair' in r['task']]
print('bmi-perm 2pair', sum(1 for r in rs if r['reasons']), '/', len(rs), [(r['task'], int(r['n']), round(r['med'],3), r['mi']) for r in rs if not r['reasons']][:10])
