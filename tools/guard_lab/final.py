exec(open('fit3.py').read().split(chr(10)+'if __name')[0])
CK = 1.5
P = (1.5, 0, 0, 0, 0, 0, 0.1, 0.25, 6)
def cls(r):
    out = {}
    if not nan(r['K']):
        h = Z * CK * r['Kse']; out['ksg1'] = (r['K'], r['K'] - h, r['K'] + h)
    if not nan(r['G']):
        g = G(r); h = Z * r['Gse']; out['gc'] = (g, g - h, g + h)
    return out
def reasons(r, nmax=500):
    f = flags_all(r, P, 'med')
    if r['n'] > nmax or r['n'] < 10: f.add('n')
    return f
def answer(r, widen):
    f = reasons(r); c = cls(r)
    lo, med, hi = r['lo'], r['med'], r['hi']
    if not f: return med, lo, hi, 'model'
    under = [k for k in c if c[k][1] > hi]
    if under:
        k = max(under, key=lambda k: c[k][1])
    elif 'o' in f:
        k = max(c, key=lambda k: c[k][2])
    elif 'disc' in f and 'ksg1' in c:
        k = 'ksg1'
    else:
        ks = [k for k in c if k in widen(r)]
        L = min([lo] + [c[k][1] for k in ks]); H = max([hi] + [c[k][2] for k in ks])
        return med, L, H, 'widened'
    e, a, b = c[k]
    return e, min(lo, a), max(hi, b), k
def evaluate(rows, widen, label):
    print(label)
    print("  set         flag  |  model: mse cover width | guarded: mse cover width")
    for s in INDIST + FAIL:
        rs = [r for r in rows if r['set'] == s and not nan(r['med'])]
        if not rs: continue
        fl = sum(1 for r in rs if reasons(r)) / len(rs)
        m = [(r['med'] - r['mi'])**2 for r in rs]; mc = [r['lo'] <= r['mi'] <= r['hi'] for r in rs]; mw = [r['hi'] - r['lo'] for r in rs]
        A = [answer(r, widen) for r in rs]
        g = [(a[0] - r['mi'])**2 for a, r in zip(A, rs)]; gc_ = [a[1] <= r['mi'] <= a[2] for a, r in zip(A, rs)]; gw = [a[2] - a[1] for a in A]
        N = len(rs)
        print(f"  {s:10s} {fl:.3f} | {sum(m)/N:8.3f} {sum(mc)/N:.3f} {sum(mw)/N:6.3f} | {sum(g)/N:8.3f} {sum(gc_)/N:.3f} {sum(gw)/N:6.3f}")
if __name__ == '__main__':
    train, test = load_split()
    evaluate(test, lambda r: ['ksg1', 'gc'], 'widen with both')
    evaluate(test, lambda r: ['gc'] if r['dx'] + r['dy'] > 6 else ['ksg1', 'gc'], 'widen with gc only above 6 dims')
