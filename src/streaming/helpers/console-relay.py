#!/usr/bin/env python3
"""Runs a command on a fresh pseudo-terminal and relays it, for peapod's tty exec.

Usage: console-relay.py COMMAND [ARG...]

peapod runs `runc exec -t ...` through this helper: runc, not detached,
relays the container process's terminal to its own stdin/stdout and copies
the size of its own terminal to the process's terminal on SIGWINCH. Node has
no way to give a child a terminal or to resize one, so this helper opens a
pseudo-terminal pair, starts the command with the slave as its controlling
terminal and stdio, copies its own stdin to the master and the master to its
stdout, and on each "HEIGHT WIDTH" line read from fd 3 resizes the terminal
(the kernel then sends SIGWINCH to the command). It exits with the command's
exit status (128+N for signal N).
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def main() -> int:
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)
    # Raw mode on our side of the outer terminal: no echo, no line editing,
    # so bytes pass through unchanged (the container's terminal does that).
    attrs = termios.tcgetattr(master)
    attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    attrs[1] &= ~termios.OPOST
    attrs[0] &= ~(termios.ICRNL | termios.IXON)
    termios.tcsetattr(master, termios.TCSANOW, attrs)
    stdin, stdout, ctl = 0, 1, 3
    watched = [master, stdin, ctl]
    ctl_buf = b""
    while True:
        readable, _, _ = select.select(watched, [], [])
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            os.write(stdout, data)
        if stdin in readable:
            data = os.read(stdin, 65536)
            if not data:
                watched.remove(stdin)
            else:
                os.write(master, data)
        if ctl in readable:
            data = os.read(ctl, 4096)
            if not data:
                watched.remove(ctl)
            ctl_buf += data
            while b"\n" in ctl_buf:
                line, ctl_buf = ctl_buf.split(b"\n", 1)
                try:
                    height, width = (int(x) for x in line.split())
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
                except (ValueError, OSError):
                    pass
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
