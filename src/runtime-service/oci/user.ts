import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../common/errors';
import type { ContainerUser } from '../container/spec';
import type { OciUser } from './types';
import { quoteInput } from '../../common/bounded-text';

/**
 * Resolves `file` (an absolute path inside the container) to a host path
 * under `root`, following symlinks the way the container would see them:
 * absolute link targets and `..` stay inside `root`, so a link such as
 * `/etc/passwd -> /host/etc/passwd` can never reach a host file.
 *
 * @returns the host path, or undefined when a component is missing or too many links were followed.
 */
export function resolveInRoot(root: string, file: string): string | undefined {
  const parts = file.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}

/** Reads a text file of the container's rootfs (see resolveInRoot); undefined when absent or not a regular file. */
export function readInRoot(root: string, file: string): string | undefined {
  const host = resolveInRoot(root, file);
  if (!host) return undefined;
  try {
    if (!fs.statSync(host).isFile()) return undefined;
    return fs.readFileSync(host, 'utf8');
  } catch {
    return undefined;
  }
}

/** One line of /etc/passwd. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** One line of /etc/group. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Parses /etc/passwd text (`name:x:uid:gid:gecos:home:shell`), skipping malformed lines. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' });
  }
  return out;
}

/** Parses /etc/group text (`name:x:gid:member,member`), skipping malformed lines. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

/** The process user of a container and its HOME, when its passwd entry was found. */
export interface ResolvedUser {
  user: OciUser;
  home?: string;
}

/**
 * Decides the container process's uid, gid and additional gids.
 *
 * Order: the spec's user name, else its uid, else the image's `User`
 * (`name|uid[:group|gid]`), else root. The spec's gid replaces the primary
 * group. Additional gids: the groups of /etc/group that list the user, then
 * the spec's supplemental groups. Names are looked up in the container's own
 * /etc/passwd and /etc/group (links kept inside the rootfs).
 *
 * @param user the spec's user (absent: the image's)
 * @param imageUser the image config's `User`
 * @param passwd the rootfs's /etc/passwd text ('' when absent)
 * @param group the rootfs's /etc/group text ('' when absent)
 * @throws InvalidArgumentError when a user or group name is not found (field
 *   `user.name` for the spec's), or when the spec gives a gid without a user
 *   (field `user.gid`).
 */
export function resolveUser(user: ContainerUser | undefined, imageUser: string | undefined, passwd: string, group: string): ResolvedUser {
  const named = user?.name !== undefined && user.name !== '';
  if (user?.gid !== undefined && !named && user.uid === undefined) {
    // As the kubelet and CRI-O: a group alone would pair an arbitrary user with it.
    throw invalidArgument('a group is set without a user to run as', { field: 'user.gid' });
  }
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid = 0;
  let gid: number | undefined;
  let entry: PasswdEntry | undefined;
  if (named) {
    entry = users.find((u) => u.name === user.name);
    if (!entry) throw invalidArgument(`user ${quoteInput(user.name ?? '')} not found in the image's /etc/passwd`, { field: 'user.name' });
    uid = entry.uid;
  } else if (user?.uid !== undefined) {
    uid = user.uid;
    entry = users.find((u) => u.uid === uid);
  } else if (imageUser) {
    const [u, g] = imageUser.split(':', 2);
    if (/^\d+$/.test(u)) {
      uid = Number(u);
      entry = users.find((x) => x.uid === uid);
    } else if (u) {
      entry = users.find((x) => x.name === u);
      if (!entry) throw invalidArgument(`image config User: user ${quoteInput(u)} not found in the image's /etc/passwd`);
      uid = entry.uid;
    }
    if (g !== undefined && g !== '') {
      if (/^\d+$/.test(g)) gid = Number(g);
      else {
        const ge = groups.find((x) => x.name === g);
        if (!ge) throw invalidArgument(`image config User: group ${quoteInput(g)} not found in the image's /etc/group`);
        gid = ge.gid;
      }
    }
  } else {
    entry = users.find((x) => x.uid === 0);
  }
  if (gid === undefined) gid = entry?.gid ?? 0;
  if (user?.gid !== undefined) gid = user.gid;
  const additional = new Set<number>();
  if (entry) for (const g of groups) if (g.members.includes(entry.name)) additional.add(g.gid);
  for (const g of user?.supplementalGroups ?? []) additional.add(g);
  return { user: { uid, gid, additionalGids: [...additional] }, home: entry?.home };
}
