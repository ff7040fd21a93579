#!/usr/bin/env python3
"""coremap.py CORE PID PATTERNS_FILE - where in a core dump each pattern lies.

For every occurrence of any pattern (one per line) prints the file offset,
the virtual address (from the core's PT_LOAD headers), the mapping it falls
in (from /proc/PID/maps, if the process still runs), the 16 bytes before the
enclosing line (a glibc chunk header shows up there as a size word) and a
printable excerpt, so a copy can be told apart: a malloc'd JSON body, curl's
buffers (an HTTP/2 frame header `LL LL LL 00 ..` before the JSON), OpenSSL's
record buffer, a freed cJSON string (tcache pointers over its first bytes).
A hit outside every PT_LOAD lies in a PT_NOTE: a thread's saved registers
(NT_FPREGSET, NT_X86_XSTATE); it is named by thread and register, e.g. ZMM16,
where glibc's memcpy/memchr left the last bytes they moved.
Overlapping hits of several windows of one marker are reported once.
"""
import re
import struct
import sys


NOTE_NAMES = {1: 'NT_PRSTATUS', 2: 'NT_FPREGSET', 0x202: 'NT_X86_XSTATE'}


def notes(data, segs):
    """(desc offset, desc size, note type, LWP of the thread) of each note."""
    out = []
    for off, size in segs:
        p, lwp = off, None
        while p + 12 <= off + size:
            namesz, descsz, typ = struct.unpack_from('<III', data, p)
            d = p + 12 + ((namesz + 3) & ~3)
            if typ == 1:
                lwp = struct.unpack_from('<I', data, d + 32)[0]     # prstatus.pr_pid
            out.append((d, descsz, typ, lwp))
            p = d + ((descsz + 3) & ~3)
    return out


def register(typ, off):
    """The x86-64 register at byte off of an FXSAVE (NT_FPREGSET) or standard-format XSAVE area."""
    areas = [(32, 16, 8, 'ST%d'), (160, 16, 16, 'XMM%d')]
    if typ == 0x202:
        areas += [(576, 16, 16, 'YMM%d bits 128-255'), (1088, 8, 8, 'K%d'),
                  (1152, 32, 16, 'ZMM%d bits 256-511'), (1664, 64, 16, 'ZMM%d')]
    for base, width, n, name in areas:
        if base <= off < base + width * n:
            i, b = divmod(off - base, width)
            return '%s byte %d' % (name % (i + (16 if base == 1664 else 0)), b)
    return 'byte %d' % off


def main():
    core, pid, patfile = sys.argv[1], sys.argv[2], sys.argv[3]
    pats = [p.strip().encode() for p in open(patfile) if p.strip()]
    data = open(core, 'rb').read()
    phoff = struct.unpack_from('<Q', data, 0x20)[0]
    phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
    loads, note_segs = [], []
    for i in range(phnum):
        f = struct.unpack_from('<IIQQQQQQ', data, phoff + i * phentsize)
        if f[0] == 1:
            loads.append((f[2], f[5], f[3]))
        elif f[0] == 4:
            note_segs.append((f[2], f[5]))
    maps = []
    try:
        for line in open('/proc/%s/maps' % pid):
            f = line.split()
            a, b = (int(x, 16) for x in f[0].split('-'))
            maps.append((a, b, f[5] if len(f) > 5 else '[anon]'))
    except OSError:
        pass
    nts = notes(data, note_segs)
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
        note = next((n for n in nts if n[0] <= off < n[0] + n[1]), None)
        if note:
            d, _, typ, lwp = note
            region = 'registers of thread LWP %s: %s, %s' % (
                lwp, NOTE_NAMES.get(typ, 'note type %#x' % typ), register(typ, off - d))
        print('hit at core offset %d, address %s (%s), %d bytes into its text'
              % (off, vas, region, off - start))
        print('   16 bytes before the text:', data[start - 16:start].hex(' '))
        print('   text:', data[start:start + 100])


if __name__ == '__main__':
    main()
