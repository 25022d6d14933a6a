exec(open('fit3.py').read().split(chr(10)+'if __name')[0])
def flags_hd(r, q):
    rO2, bO2, sO2 = q
    if r['dx'] + r['dy'] <= 4 or nan(r['G']): return False
    ghi = G(r) + Z * r['Gse']
    return r['lo'] > ghi * (1 + rO2) + bO2 + sO2 * r['Gb']
train, test = load_split()
p = (1.5,0,0,0,0,0,0.3,0.5,4)
res = []
for rO2 in [0, 0.5, 1, 2]:
  for bO2 in [0.3, 0.5, 1, 2]:
    for sO2 in [0, 0.5, 1]:
      q = (rO2, bO2, sO2)
      fp = 0; 
      for s in INDIST:
          cov = [r for r in train if r['set'] == s and not nan(r['med']) and r['lo'] <= r['mi'] <= r['hi']]
          fp = max(fp, sum(1 for r in cov if flags_hd(r, q)) / len(cov))
      bad = [r for r in train if r['set'] == 'imd-negx1' and abs(r['med'] - r['mi']) > max(0.3, 0.2 * r['mi']) and r['med'] > r['mi']]
      new = sum(1 for r in bad if flags_hd(r, q) and not flags_all(r, p, 'med'))
      res.append((fp, new, len(bad), q))
res.sort(key=lambda x: (x[0] > 0.005, -x[1]))
for x in res[:10]: print(x)
