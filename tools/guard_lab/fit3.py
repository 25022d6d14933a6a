exec(open('fit2.py').read().split(chr(10)+'if __name')[0])
TAB = [1.64, 2.78, 5.17, 9.67, 18.19, 34.94]
def bucket(m): return 0 if m <= 1 else 1 if m <= 2 else 2 if m <= 4 else 3 if m <= 8 else 4 if m <= 16 else 5
def flags_all(r, p, use='hi'):
    f = flags(r, p)
    if r['task'].startswith('discrete'): f.add('disc')
    m = min(r['dx'], r['dy'])
    if r[use] > TAB[bucket(m)]: f.add('mi')
    return f
def rates2(rows, p, use='hi'):
    out = {}
    for s in INDIST + FAIL:
        rs = [r for r in rows if r['set'] == s and not nan(r['med'])]
        if not rs: continue
        cov = [r for r in rs if r['lo'] <= r['mi'] <= r['hi']]
        miss = [r for r in rs if not (r['lo'] <= r['mi'] <= r['hi'])]
        bad = [r for r in rs if abs(r['med'] - r['mi']) > max(0.3, 0.2 * r['mi'])]
        fl = lambda L: sum(1 for r in L if flags_all(r, p, use)) / max(1, len(L))
        fmi = lambda L: sum(1 for r in L if 'mi' in flags_all(r, p, use)) / max(1, len(L))
        out[s] = (fl(cov), fl(miss), fl(bad), fl(rs), len(cov), len(miss), len(bad), len(rs), fmi(cov), fmi(rs))
    return out
if __name__ == '__main__':
    train, test = load_split()
    p = (1.5,0,0,0,0,0,0.3,0.5,4)
    for use in ['hi', 'med']:
      for name, rows in [('train', train), ('test', test)]:
        print(name, use, "set  flag|covered flag|missed flag|bad flag|all (#cov #miss #bad #all) mi-reason|cov mi-reason|all")
        for s, v in rates2(rows, p, use).items():
            print(f"  {s:10s} {v[0]:.3f} {v[1]:.3f} {v[2]:.3f} {v[3]:.3f}  ({v[4]} {v[5]} {v[6]} {v[7]})  {v[8]:.3f} {v[9]:.3f}")
