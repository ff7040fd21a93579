#!/usr/bin/env python3
"""coremap.py CORE PID PATTERNS_FILE - where in a core dump each pattern lies.

For every occurrence of any pattern (one per line) prints the file offset,
the virtual address (from the core's PT_LOAD headers), the mapping it falls
in (from /proc/PID/maps, if the process still runs), the 16 bytes before the
enclosing line (a glibc chunk header shows up there as a size word) and a
printable excerpt, so a copy can be told apart: a malloc'd JSON body, curl's
buffers (an HTTP/2 frame header `LL LL LL 00 ..` before the JSON), OpenSSL's
record buffer, a freed cJSON string (tcache pointers over its first bytes).
Overlapping hits of several windows of one marker are reported once.
"""
import re
import struct
import sys


def main():
    core, pid, patfile = sys.argv[1], sys.argv[2], sys.argv[3]
    pats = [p.strip().encode() for p in open(patfile) if p.strip()]
    data = open(core, 'rb').read()
    phoff = struct.unpack_from('<Q', data, 0x20)[0]
    phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
    loads = []
    for i in range(phnum):
        f = struct.unpack_from('<IIQQQQQQ', data, phoff + i * phentsize)
        if f[0] == 1:
            loads.append((f[2], f[5], f[3]))
    maps = []
    try:
        for line in open('/proc/%s/maps' % pid):
            f = line.split()
            a, b = (int(x, 16) for x in f[0].split('-'))
            maps.append((a, b, f[5] if len(f) > 5 else '[anon]'))
    except OSError:
        pass
    rx = re.compile(b'|'.join(re.escape(p) for p in sorted(pats, key=len, reverse=True)))
    last_end = -1
    for m in rx.finditer(data):
        off = m.start()
        if off < last_end + 64:
            last_end = m.end()
            continue
        last_end = m.end()
        va = next((v + off - o for o, sz, v in loads if o <= off < o + sz), None)
        region = next((n for a, b, n in maps if va is not None and a <= va < b), '?')
        start = off
        while start > 0 and 0x20 <= data[start - 1] < 0x7f and off - start < 1 << 20:
            start -= 1
        vas = '%#x' % va if va is not None else '?'
        print('hit at core offset %d, address %s (%s), %d bytes into its text'
              % (off, vas, region, off - start))
        print('   16 bytes before the text:', data[start - 16:start].hex(' '))
        print('   text:', data[start:start + 100])


if __name__ == '__main__':
    main()
