#!/usr/bin/env python3
"""Marks a version need (e.g. GLIBCXX_3.4.32) WEAK in an ELF64 little-endian shared library's
.gnu.version_r, so the dynamic loader does not refuse the library when the version is missing.
Usage: mark_verneed_weak.py LIBRARY VERSION. Exits 0 if the need is (now) weak, 1 if absent."""
import struct
import sys

VER_FLG_WEAK = 0x2
SHT_GNU_VERNEED = 0x6FFFFFFE


def main(path, version):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"{path}: not an ELF64 little-endian file")
        e_shoff, = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = []
        for i in range(e_shnum):
            off = e_shoff + i * e_shentsize
            (_name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, sh_info,
             _align, _entsize) = struct.unpack_from("<IIQQQQIIQQ", data, off)
            sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))
        found = False
        for sh_type, sh_offset, _size, sh_link, sh_info in sections:
            if sh_type != SHT_GNU_VERNEED:
                continue
            strtab = sections[sh_link][1]
            need = sh_offset
            for _ in range(sh_info):
                _vn_version, vn_cnt, _vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, need)
                aux = need + vn_aux
                for _ in range(vn_cnt):
                    vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                    end = data.index(b"\0", strtab + vna_name)
                    name = data[strtab + vna_name:end].decode()
                    if name == version:
                        found = True
                        if not vna_flags & VER_FLG_WEAK:
                            struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                    if vna_next == 0:
                        break
                    aux += vna_next
                if vn_next == 0:
                    break
                need += vn_next
        if not found:
            print(f"{path}: no version need {version}", file=sys.stderr)
            return 1
        f.seek(0)
        f.write(data)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
