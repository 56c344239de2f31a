/**
 * A client of conmon's attach socket, for peapod, which cannot be one
 * itself: the socket is SOCK_SEQPACKET (`<socket-dir>/<id>/attach`), and
 * Node has no such sockets.
 *
 * The protocol (containers/conmon `src/conn_sock.c`, `src/ctr_stdio.c`):
 * - conmon sends every chunk the container writes as one packet whose first
 *   byte names the pipe (2 stdout, 3 stderr; with a terminal, everything is
 *   2) followed by the bytes as written, at most 8192: raw bytes, never
 *   re-encoded;
 * - what the client sends is written to the container's stdin as is (conmon
 *   reads up to 32768 bytes a packet);
 * - the client shutting down its sending side ends its stdin: conmon then
 *   closes the container's stdin unless it runs with `--leave-stdin-open`
 *   (CRI stdin_once false), and keeps sending output;
 * - conmon closes the connection when the container has ended and its
 *   output is drained.
 *
 * The relay is a few lines of Perl (perl-base is Essential in Debian, so
 * always installed; its Socket module has SOCK_SEQPACKET) run as a child
 * process: socat would connect, but it writes packets into a byte stream
 * and so loses where one ends and the next begins, which is what tells the
 * pipes apart. The relay frames each packet it receives as a 4-byte
 * big-endian length and the packet, on its stdout; it sends what comes on
 * its stdin in packets. It blocks in write while its stdout is full, so a
 * slow client slows conmon and the container down, as with CRI-O, instead
 * of filling peapod's memory.
 */
import * as path from 'node:path';
import { Transform, TransformCallback } from 'node:stream';
import { HostProcess, spawnHostProcess } from '../common/host/command';

/** The relay (see the module doc). Arguments: the socket's path, and 1 to relay stdin (0: never read it, never end the container's stdin). */
const RELAY_SCRIPT = String.raw`
use strict; use warnings; use Socket;
my ($path, $with_stdin) = @ARGV;
socket(my $s, AF_UNIX, SOCK_SEQPACKET, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_un($path)) or die "connect $path: $!\n";
binmode STDIN; binmode STDOUT;
my $in = $with_stdin ? 1 : 0;
sub out { my ($b) = @_; my $o = 0; while ($o < length $b) { my $n = syswrite(STDOUT, $b, length($b) - $o, $o); die "stdout: $!\n" unless defined $n; $o += $n; } }
while (1) {
  my $want = ''; vec($want, fileno($s), 1) = 1; vec($want, fileno(STDIN), 1) = 1 if $in;
  my $n = select(my $ready = $want, undef, undef, undef);
  if ($n < 0) { next if $!{EINTR}; die "select: $!\n"; }
  if (vec($ready, fileno($s), 1)) {
    my $p; defined(recv($s, $p, 65536, 0)) or die "recv: $!\n";
    last if length($p) == 0;
    out(pack('N', length $p) . $p);
  }
  if ($in && vec($ready, fileno(STDIN), 1)) {
    my $got = sysread(STDIN, my $b, 32768);
    die "stdin: $!\n" unless defined $got;
    if ($got == 0) { shutdown($s, 1); $in = 0; } else { defined(send($s, $b, 0)) or die "send: $!\n"; }
  }
}
`;

/** conmon's pipe numbers (`stdpipe_t`). */
export const ATTACH_PIPE = { stdin: 1, stdout: 2, stderr: 3 } as const;

/** One packet from conmon: the pipe it came from and its bytes. */
export interface AttachPacket {
  pipe: number;
  data: Buffer;
}

/** The largest frame the relay writes (a packet is at most 8193 bytes; its recv buffer is 65536). */
const MAX_FRAME_BYTES = 65536;

/**
 * Splits the relay's stdout into packets (object mode: AttachPacket).
 * Errors on a frame larger than any packet (the relay is not speaking).
 */
export class AttachFrameDecoder extends Transform {
  private pending: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  /** Node's Transform: frames (u32 big-endian length, pipe byte, data) out of `chunk` and what was left of the last one. */
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 4) {
      const len = this.pending.readUInt32BE(0);
      if (len < 1 || len > MAX_FRAME_BYTES) return done(new Error(`attach relay: a frame of ${len} bytes`));
      if (this.pending.length < 4 + len) break;
      const packet = this.pending.subarray(4, 4 + len);
      this.push({ pipe: packet[0], data: Buffer.from(packet.subarray(1)) } satisfies AttachPacket);
      this.pending = this.pending.subarray(4 + len);
    }
    done();
  }

  /** Node's Transform: at the end, a frame cut short is an error. */
  override _flush(done: TransformCallback): void {
    done(this.pending.length ? new Error(`attach relay: ${this.pending.length} bytes of a cut frame`) : undefined);
  }
}

/** A running relay to one attach socket. */
export interface AttachRelay {
  child: HostProcess;
  /** The packets conmon sends, in order; ends when conmon closes the connection or the relay dies. */
  packets: AttachFrameDecoder;
  /** What the relay said on stderr (bounded), e.g. why it could not connect. */
  stderr(): string;
}

/**
 * Connects a relay to an attach socket. The socket's path is given
 * relative to its directory, in which the relay runs: an absolute path may
 * exceed sun_path's 108 bytes.
 * @param socketPath the attach socket (attachSocketPath in driver.ts)
 * @param withStdin relay the child's stdin to the container (else it is never read and the container's stdin never ended by this client)
 */
export function openAttachRelay(socketPath: string, withStdin: boolean): AttachRelay {
  const child = spawnHostProcess('perl', ['-e', RELAY_SCRIPT, path.basename(socketPath), withStdin ? '1' : '0'], { cwd: path.dirname(socketPath) });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  child.on('error', (err) => {
    stderr += `cannot run perl: ${err.message}`;
  });
  child.stdin?.on('error', () => undefined);
  if (!withStdin) child.stdin?.end();
  const packets = new AttachFrameDecoder();
  child.stdout?.pipe(packets);
  return { child, packets, stderr: () => stderr };
}
