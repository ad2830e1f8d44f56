import sys, re, statistics as st
rows = {}
order = []
for line in open(sys.argv[1]):
    m = re.match(r'(\d+) (\S+)\s+([\d.]+) us/msg\s+([\d.]+) cs/msg\s+\((\d+) msg/s\)', line)
    if not m:
        if line.strip(): print("#", line.strip())
        continue
    r, lab, us, cs, ms = m.groups()
    if lab not in rows: rows[lab] = []; order.append(lab)
    rows[lab].append((int(r), float(us), float(cs), int(ms)))
med = {l: st.median(x[1] for x in rows[l]) for l in order}
# per-round ratio uring/epoll for the same suffix
def ratios(a, b):
    ra = {x[0]: x[1] for x in rows.get(a, [])}; rb = {x[0]: x[1] for x in rows.get(b, [])}
    return [ra[k]/rb[k] for k in ra if k in rb]
print("| variant | n | µs/msg median | min–max | cs/msg | msg/s | ×C | uring/epoll (median of per-round ratios) |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for l in order:
    xs = rows[l]
    us = [x[1] for x in xs]
    rr = ""
    if l.startswith("uring"):
        e = "epoll" + l[5:]
        if e in rows:
            rr = "%.3f" % st.median(ratios(l, e))
        elif "epoll-raw" in rows:
            rr = "%.3f (vs epoll-raw)" % st.median(ratios(l, "epoll-raw"))
    c = "%.2f" % (med[l]/med["C"]) if "C" in med else ""
    print("| %s | %d | %.2f | %.2f–%.2f | %.2f | %d | %s | %s |" % (l, len(xs), med[l], min(us), max(us), st.median(x[2] for x in xs), st.median(x[3] for x in xs), c, rr))
