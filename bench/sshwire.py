"""What a packet capture tells about SSH sessions: negotiated algorithms and round trips.

The harness captures traffic with tcpdump on the farm's own interfaces; this module reads the
pcap file (no third-party parser needed), rebuilds each TCP connection, then
- parses the two cleartext SSH_MSG_KEXINIT messages and computes what was negotiated (the first
  client algorithm the server also offers, RFC 4253 §7.1) — the same for every tool, whatever its
  logging;
- counts the round trips a connection needed until its last server data: packets are grouped in
  "flights" separated by idle gaps of at least half the measured round-trip time (SYN → SYN-ACK);
  each flight after the first is one round trip.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

PSEUDO_ALGORITHMS = ("ext-info-", "kex-strict-")


@dataclass
class Segment:
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    flags: int
    payload: bytes


@dataclass
class Connection:
    client: tuple[str, int]
    server: tuple[str, int]
    segments: list[Segment] = field(default_factory=list)

    def stream(self, from_client: bool) -> bytes:
        """The reassembled byte stream in one direction (first copy of each sequence number)."""
        source = self.client if from_client else self.server
        chunks: dict[int, bytes] = {}
        for seg in self.segments:
            if seg.src == source and seg.payload and seg.seq not in chunks:
                chunks[seg.seq] = seg.payload
        data, expected = b"", None
        for seq in sorted(chunks):
            if expected is not None and seq < expected:
                chunk = chunks[seq][expected - seq :]
            else:
                chunk = chunks[seq]
            data += chunk
            end = seq + len(chunks[seq])
            expected = end if expected is None else max(expected, end)
        return data


def _link_offset(linktype: int, frame: bytes) -> int | None:
    """Offset of the IP header in a frame, or None if it is not IPv4/IPv6."""
    if linktype == 1:  # Ethernet
        proto, offset = struct.unpack_from("!H", frame, 12)[0], 14
    elif linktype == 113:  # Linux cooked v1
        proto, offset = struct.unpack_from("!H", frame, 14)[0], 16
    elif linktype == 276:  # Linux cooked v2
        proto, offset = struct.unpack_from("!H", frame, 0)[0], 20
    elif linktype in (12, 101):  # raw IP
        return 0
    else:
        raise ValueError(f"unsupported pcap link type {linktype}")
    return offset if proto in (0x0800, 0x86DD) else None


def read_pcap(path: str) -> list[Segment]:
    with open(path, "rb") as stream:
        data = stream.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file (pcapng is not supported)")
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0xFFFF
    segments, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        offset = _link_offset(linktype, frame)
        if offset is None:
            continue
        segment = _parse_ip(frame[offset:], sec + frac * scale)
        if segment is not None:
            segments.append(segment)
    return segments


def _parse_ip(packet: bytes, time: float) -> Segment | None:
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        total, proto = struct.unpack_from("!H", packet, 2)[0], packet[9]
        src, dst = ipaddress.ip_address(packet[12:16]), ipaddress.ip_address(packet[16:20])
        body = packet[ihl:total]
    elif version == 6:
        length, proto = struct.unpack_from("!H", packet, 4)[0], packet[6]
        src, dst = ipaddress.ip_address(packet[8:24]), ipaddress.ip_address(packet[24:40])
        body = packet[40 : 40 + length]
    else:
        return None
    if proto != 6 or len(body) < 20:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", body, 0)
    header = (body[12] >> 4) * 4
    flags = body[13]
    return Segment(time, (str(src), sport), (str(dst), dport), seq, flags, bytes(body[header:]))


SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


def connections(segments: list[Segment]) -> list[Connection]:
    """TCP connections in order of their SYN (segments of unseen connections are dropped)."""
    found: dict[tuple, Connection] = {}
    for seg in sorted(segments, key=lambda s: s.time):
        key = (seg.src, seg.dst)
        if seg.flags & SYN and not seg.flags & ACK and key not in found:
            found[key] = Connection(client=seg.src, server=seg.dst)
        conn = found.get(key) or found.get((seg.dst, seg.src))
        if conn is not None:
            conn.segments.append(seg)
    return list(found.values())


# --- SSH key exchange -------------------------------------------------------------------------


def _kexinit(stream: bytes) -> tuple[str, list[list[str]]] | None:
    """(version line, name-lists) of the KEXINIT at the start of a cleartext SSH stream."""
    end = stream.find(b"\r\n")
    while end >= 0 and not stream.startswith(b"SSH-"):  # server may send banner lines first
        stream = stream[end + 2 :]
        end = stream.find(b"\r\n")
    if end < 0:
        return None
    version, rest = stream[:end].decode(errors="replace"), stream[end + 2 :]
    if len(rest) < 6:
        return None
    length, _padding, msg = struct.unpack_from("!IBB", rest, 0)
    if msg != 20 or len(rest) < 4 + length:
        return None
    pos, lists = 6 + 16, []
    for _ in range(10):
        size = struct.unpack_from("!I", rest, pos)[0]
        lists.append(rest[pos + 4 : pos + 4 + size].decode().split(",") if size else [])
        pos += 4 + size
    return version, lists


def _first_common(client: list[str], server: list[str]) -> str:
    for name in client:
        if name in server and not name.startswith(PSEUDO_ALGORITHMS):
            return name
    return "(none)"


@dataclass
class Negotiated:
    client_version: str
    server_version: str
    kex: str
    host_key: str
    cipher: str
    mac: str
    compression: str

    def short(self) -> str:
        mac = "" if "gcm" in self.cipher or "poly1305" in self.cipher else f", {self.mac}"
        comp = "" if self.compression == "none" else f", compression {self.compression}"
        return f"{self.kex}; {self.host_key}; {self.cipher}{mac}{comp}"


def negotiated(conn: Connection) -> Negotiated | None:
    client, server = _kexinit(conn.stream(True)), _kexinit(conn.stream(False))
    if client is None or server is None:
        return None
    (cv, c), (sv, s) = client, server
    return Negotiated(
        cv,
        sv,
        kex=_first_common(c[0], s[0]),
        host_key=_first_common(c[1], s[1]),
        cipher=_first_common(c[2], s[2]),
        mac=_first_common(c[4], s[4]),
        compression=_first_common(c[6], s[6]),
    )


# --- round trips ------------------------------------------------------------------------------


def handshake_rtt(conn: Connection) -> float | None:
    """SYN → SYN-ACK time: the path's round-trip time as seen by the client."""
    syn = next((s for s in conn.segments if s.flags & SYN and not s.flags & ACK), None)
    synack = next((s for s in conn.segments if s.flags & SYN and s.flags & ACK), None)
    return synack.time - syn.time if syn and synack else None


def round_trips(conn: Connection, rtt: float) -> tuple[int, float]:
    """(round trips, seconds) from the SYN to the last server packet carrying data.

    Server data that the client does not wait for (the close handshake after the result) is
    excluded by stopping at the last server→client flight before the client's first FIN."""
    meaningful = [s for s in conn.segments if s.payload or s.flags & (SYN | FIN | RST)]
    if not meaningful:
        return 0, 0.0
    client_fin = next(
        (s.time for s in meaningful if s.src == conn.client and s.flags & FIN), float("inf")
    )
    server_data = [
        s for s in meaningful if s.src == conn.server and s.payload and s.time <= client_fin
    ]
    if not server_data:
        return 0, 0.0
    last = server_data[-1].time
    start = meaningful[0].time
    flights, previous = 1, start
    for seg in meaningful:
        if seg.time > last:
            break
        if seg.time - previous >= rtt / 2:
            flights += 1
        previous = seg.time
    return flights - 1, last - start
