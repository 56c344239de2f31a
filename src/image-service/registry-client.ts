/**
 * A client of one registry host speaking the OCI distribution-spec
 * (`GET /v2/`, `GET /v2/<name>/manifests/<reference>`,
 * `GET /v2/<name>/blobs/<digest>`) on undici.
 *
 * Authentication follows Docker's token protocol: a 401 carries
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` (fetch a token from the
 * realm, anonymously or with Basic credentials, or by OAuth2 refresh token for
 * an identity token) or `Basic realm=…` (send the credentials). Redirects are
 * followed by hand so that a redirect to another host drops Authorization.
 * 5xx, 429 and connection resets are retried a bounded number of times with
 * exponential backoff.
 *
 * Bounds: error bodies are read up to MAX_ERROR_BODY_BYTES and token
 * responses up to MAX_TOKEN_BODY_BYTES (then the connection is dropped);
 * bodies skipped on a retry, redirect or 401 are drained up to undici's
 * 128 KiB `dump()` limit; headers are capped by undici (16 KiB); every
 * request has connect, headers and idle-body timeouts. Callers bound what
 * they read of a 2xx body (manifests, configs, blobs: see puller.ts).
 */
import type { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { deferredExtraCa } from '../common/extra-ca-certs';

let undiciModule: typeof import('undici') | undefined;
/**
 * undici, loaded by the first client made: about 5 MiB of heap and 20 MiB of
 * RSS (its code compiled) that a server which never pulls need not hold.
 */
function undici(): typeof import('undici') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (undiciModule ??= require('undici') as typeof import('undici'));
}
import { PeapodError } from '../common/errors';
import { forgetInsecureBase, knownInsecureBase, rememberInsecureBase } from './insecure-bases';

/** Credentials for one registry (the CRI `AuthConfig`). */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** base64 of `username:password`. */
  auth?: string;
  /** An OAuth2 refresh token exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token sent as is. */
  registryToken?: string;
}

/** Connection options. */
export interface RegistryClientOptions {
  /** Plain http, or https without certificate verification. */
  insecure: boolean;
  credentials?: RegistryCredentials;
  /** Milliseconds to establish a connection (default 15000). */
  connectTimeoutMs?: number;
  /** Milliseconds without data before a response is abandoned (default 60000). */
  idleTimeoutMs?: number;
  /** Attempts for a request that fails with 5xx, 429 or a reset (default 4). */
  attempts?: number;
  /** First backoff delay in milliseconds, doubled each retry (default 200). */
  backoffMs?: number;
  /**
   * What another client of the same host learned (`RegistryClient.session()`):
   * its base URL and tokens, so that this one (in a layer worker thread)
   * asks neither `GET /v2/` nor the token realm again.
   */
  session?: RegistrySession;
}

/** The state a client learned from its registry: plain data, cloneable into a worker thread. */
export interface RegistrySession {
  baseUrl?: string;
  /** Cached tokens: `[realm|service|scope, token]`. */
  tokens: [string, string][];
  basicChallenged: boolean;
}

/** A registry answered with an error status or could not be reached. */
export class RegistryError extends PeapodError {
  constructor(
    message: string,
    /** HTTP status, when there was one. */
    readonly status?: number,
  ) {
    // 401/403: refused; 404: no such repository or tag; else the registry is not usable now.
    super(status === 401 || status === 403 ? 'PERMISSION_DENIED' : status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE', message);
    this.name = 'RegistryError';
  }
}

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params). */
export function parseChallenge(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null && p[0] !== '') params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

function basicOf(c: RegistryCredentials | undefined): string | undefined {
  if (!c) return undefined;
  if (c.auth) return c.auth;
  if (c.username || c.password) return Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64');
  return undefined;
}

/** 127.0.0.0/8, ::1 and localhost are insecure by default, as in Docker. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Most bytes of an error body read (only its start is shown). */
export const MAX_ERROR_BODY_BYTES = 4 << 10;
/** Most bytes of a token response read: real ones are a few KiB (a JWT or two). */
export const MAX_TOKEN_BODY_BYTES = 1 << 20;

/**
 * Reads at most `max` bytes of a response body. Past that the body is
 * destroyed (the connection is not drained) and `overflow` is true; `data`
 * holds the first `max` bytes.
 */
export async function readBounded(body: Readable, max: number): Promise<{ data: Buffer; overflow: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body) {
    const chunk = c as Buffer;
    if (total + chunk.length > max) {
      chunks.push(chunk.subarray(0, max - total));
      body.destroy();
      return { data: Buffer.concat(chunks, max), overflow: true };
    }
    chunks.push(chunk);
    total += chunk.length;
  }
  return { data: Buffer.concat(chunks, total), overflow: false };
}

const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);
const MAX_REDIRECTS = 5;

/** A response whose status is 2xx; the body is still unread. */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string>; dump(): Promise<void> };
}

/**
 * The Authorization header a client sends for `scope`: the credentials'
 * bearer token, else a cached token of that scope, else Basic credentials
 * once the registry asked for them; undefined for none.
 */
function authorizationFor(creds: RegistryCredentials | undefined, tokens: Iterable<[string, string]>, basicChallenged: boolean, scope: string): string | undefined {
  if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
  for (const [k, v] of tokens) if (k.endsWith(`|${scope}`)) return `Bearer ${v}`;
  if (basicChallenged) {
    const b = basicOf(creds);
    if (b) return `Basic ${b}`;
  }
  return undefined;
}

/**
 * The first request of a blob GET as a client made from `handoff` (a
 * `RegistryClient.handoff()`) would send it: the URL and the Authorization
 * header, without loading undici. Undefined when that client has not
 * learned its base URL yet (then only a RegistryClient can do the GET).
 */
export function blobRequestOf(handoff: { host: string; options: RegistryClientOptions }, repo: string, digest: string): { url: string; authorization?: string } | undefined {
  const session = handoff.options.session;
  if (!session?.baseUrl) return undefined;
  return { url: `${session.baseUrl}/v2/${repo}/blobs/${digest}`, authorization: authorizationFor(handoff.options.credentials, session.tokens, session.basicChallenged, `repository:${repo}:pull`) };
}

/** A client of one registry host. Tokens are cached per scope for the client's life. */
export class RegistryClient {
  private readonly agent: Agent;
  private baseUrl: string | undefined;
  private readonly tokens = new Map<string, string>();
  private basicChallenged = false;

  /**
   * @param host registry host and port as in a reference (`docker.io` is served at `registry-1.docker.io`)
   */
  constructor(
    readonly host: string,
    private readonly options: RegistryClientOptions,
  ) {
    this.agent = new (undici().Agent)({
      connectTimeout: options.connectTimeoutMs ?? 15_000,
      headersTimeout: options.idleTimeoutMs ?? 60_000,
      bodyTimeout: options.idleTimeoutMs ?? 60_000,
      // NODE_EXTRA_CA_CERTS when the CLI's launcher deferred it (common/extra-ca-certs.ts).
      connect: { rejectUnauthorized: !options.insecure, ca: deferredExtraCa() },
    });
    const seed = options.session;
    if (seed) {
      this.baseUrl = seed.baseUrl;
      for (const [k, v] of seed.tokens) this.tokens.set(k, v);
      this.basicChallenged = seed.basicChallenged;
    }
  }

  /**
   * The options and learned state another client of this host needs to
   * act as this one (a layer worker fetching its blob: same credentials,
   * bounds and timeouts, no new ping or token request). Plain data.
   */
  handoff(): { host: string; options: RegistryClientOptions } {
    const session: RegistrySession = { baseUrl: this.baseUrl, tokens: [...this.tokens], basicChallenged: this.basicChallenged };
    return { host: this.host, options: { ...this.options, session } };
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private apiHost(): string {
    return this.host === 'docker.io' ? 'registry-1.docker.io' : this.host;
  }

  /**
   * Finds the base URL: https, and for an insecure registry plain http when
   * https cannot be spoken (GET /v2/, distribution-spec "determining support").
   */
  private async base(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const https = `https://${this.apiHost()}`;
    if (this.options.insecure) {
      const known = knownInsecureBase(this.apiHost());
      if (known) return (this.baseUrl = known);
      let url: string;
      try {
        const res = await undici().request(`${https}/v2/`, { dispatcher: this.agent, method: 'GET' });
        await res.body.dump();
        url = https;
      } catch {
        url = `http://${this.apiHost()}`;
      }
      rememberInsecureBase(this.apiHost(), url);
      return (this.baseUrl = url);
    }
    // The ping: any answer (200, or 401 with the challenge handled per request) shows an API v2 registry.
    const res = await this.send(`${https}/v2/`, 'GET', {});
    await res.body.dump();
    return (this.baseUrl = https);
  }

  private async send(url: string, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    const attempts = this.options.attempts ?? 4;
    const backoff = this.options.backoffMs ?? 200;
    for (let i = 1; ; i++) {
      try {
        const res = await undici().request(url, { dispatcher: this.agent, method, headers });
        if ((res.statusCode >= 500 || res.statusCode === 429) && i < attempts) {
          await res.body.dump();
          // Retry-After in seconds, when given, within a bound of 10 s.
          const after = Number(res.headers['retry-after']);
          await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 10_000) : backoff * 2 ** (i - 1));
          continue;
        }
        return res;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (i < attempts && RETRY_CODES.has(code)) {
          await sleep(backoff * 2 ** (i - 1));
          continue;
        }
        // The scheme remembered for an insecure host may be what failed: the next client probes again.
        if (this.options.insecure) forgetInsecureBase(this.apiHost());
        throw new RegistryError(`${method} ${url}: ${(err as Error).message}${code ? ` (${code})` : ''}`);
      }
    }
  }

  private async fetchToken(ch: AuthChallenge, scope: string): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError(`${this.host}: Bearer challenge without realm`);
    const sc = ch.params.scope ?? scope;
    const key = `${realm}|${ch.params.service ?? ''}|${sc}`;
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const creds = this.options.credentials;
    const u = new URL(realm);
    if (ch.params.service) u.searchParams.set('service', ch.params.service);
    if (sc) u.searchParams.set('scope', sc);
    let res: Dispatcher.ResponseData;
    try {
      if (creds?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'peapod' });
        if (ch.params.service) form.set('service', ch.params.service);
        if (sc) form.set('scope', sc);
        res = await undici().request(realm, { dispatcher: this.agent, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      } else {
        const basic = basicOf(creds);
        res = await undici().request(u, { dispatcher: this.agent, method: 'GET', headers: basic ? { authorization: `Basic ${basic}` } : {} });
      }
    } catch (err) {
      throw new RegistryError(`${this.host}: token request to ${u.origin}${u.pathname} failed: ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) {
      const text = (await readBounded(res.body, MAX_ERROR_BODY_BYTES)).data.toString('utf8').slice(0, 300);
      throw new RegistryError(`${this.host}: token server ${u.origin}${u.pathname} answered ${res.statusCode}${res.statusCode === 401 ? ' (authentication required or credentials rejected)' : ''}: ${text}`, res.statusCode);
    }
    const { data, overflow } = await readBounded(res.body, MAX_TOKEN_BODY_BYTES);
    if (overflow) throw new RegistryError(`${this.host}: token server ${u.origin}${u.pathname} sent a response over the ${MAX_TOKEN_BODY_BYTES}-byte limit`);
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(data.toString('utf8')) as { token?: unknown; access_token?: unknown };
    } catch {
      throw new RegistryError(`${this.host}: token server ${u.origin}${u.pathname} sent a response that is not JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new RegistryError(`${this.host}: token server returned no token`);
    this.tokens.set(key, token);
    return token;
  }

  private authHeader(scope: string): string | undefined {
    return authorizationFor(this.options.credentials, this.tokens, this.basicChallenged, scope);
  }

  /**
   * Checks the client's credentials the way `docker login` does: GET /v2/;
   * on a Bearer challenge, a token request to the realm with the credentials
   * (service, no scope); on a Basic challenge, GET /v2/ again with them. A
   * registry that needs no authentication accepts any credentials.
   * @throws RegistryError with status 401 when the registry or its token
   *   server refuses the credentials, or another status or none when it
   *   cannot be reached or answers otherwise.
   */
  async checkLogin(): Promise<void> {
    const url = `${await this.base()}/v2/`;
    const res = await this.send(url, 'GET', {});
    const challenge = String(res.headers['www-authenticate'] ?? '');
    await res.body.dump();
    if (res.statusCode === 200) return;
    if (res.statusCode !== 401) throw new RegistryError(`${this.host}: GET /v2/ answered HTTP ${res.statusCode}`, res.statusCode);
    const ch = parseChallenge(challenge);
    if (ch?.scheme === 'bearer') {
      await this.fetchToken(ch, '');
      return;
    }
    if (ch?.scheme !== 'basic') throw new RegistryError(`${this.host}: authentication required${ch ? ` (unsupported scheme ${ch.scheme})` : ''}`, 401);
    const basic = basicOf(this.options.credentials);
    if (!basic) throw new RegistryError(`${this.host}: authentication required (Basic) and no credentials given`, 401);
    const again = await this.send(url, 'GET', { authorization: `Basic ${basic}` });
    await again.body.dump();
    if (again.statusCode === 401) throw new RegistryError(`${this.host}: the registry refused the credentials (401)`, 401);
    if (again.statusCode !== 200) throw new RegistryError(`${this.host}: GET /v2/ answered HTTP ${again.statusCode}`, again.statusCode);
  }

  /**
   * GETs (or HEADs) `/v2/<repo>/<rest>` with authentication and redirects,
   * and returns the 2xx response with its body unread.
   * @param repo repository path, for the token scope `repository:<repo>:pull`
   * @throws RegistryError with the status for a non-2xx answer (401: the
   *   credentials were refused or missing; 404: not found).
   */
  async get(repo: string, rest: string, accept: string[] = [], method: 'GET' | 'HEAD' = 'GET'): Promise<RegistryResponse> {
    const scope = `repository:${repo}:pull`;
    let url = `${await this.base()}/v2/${repo}/${rest}`;
    const origin = new URL(url).host;
    let authTried = false;
    for (let hops = 0; ; ) {
      const headers: Record<string, string> = {};
      if (accept.length) headers.accept = accept.join(', ');
      const sameHost = new URL(url).host === origin;
      const auth = sameHost ? this.authHeader(scope) : undefined;
      if (auth) headers.authorization = auth;
      const res = await this.send(url, method, headers);
      if (res.statusCode === 401 && sameHost && !authTried) {
        authTried = true;
        const ch = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
        await res.body.dump();
        if (ch?.scheme === 'bearer' && !this.options.credentials?.registryToken) {
          // A cached token was refused (expired): forget it and ask again.
          for (const k of [...this.tokens.keys()]) if (k.endsWith(`|${ch.params.scope ?? scope}`)) this.tokens.delete(k);
          await this.fetchToken(ch, scope);
        }
        else if (ch?.scheme === 'basic') {
          if (!basicOf(this.options.credentials)) throw new RegistryError(`${this.host}: authentication required (Basic) and no credentials given`, 401);
          this.basicChallenged = true;
        } else throw new RegistryError(`${this.host}: authentication required${ch ? ` (unsupported scheme ${ch.scheme})` : ''}`, 401);
        continue;
      }
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        await res.body.dump();
        if (++hops > MAX_REDIRECTS) throw new RegistryError(`${url}: too many redirects`);
        url = new URL(String(res.headers.location), url).toString();
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = method === 'GET' ? (await readBounded(res.body, MAX_ERROR_BODY_BYTES)).data.toString('utf8').slice(0, 500) : (await res.body.dump(), '');
        const what = res.statusCode === 401 ? 'unauthorized (credentials missing or refused)' : res.statusCode === 404 ? 'not found' : `HTTP ${res.statusCode}`;
        throw new RegistryError(`${this.host}/${repo}: ${rest}: ${what}${text ? `: ${text.trim()}` : ''}`, res.statusCode);
      }
      return { status: res.statusCode, headers: res.headers, body: res.body as unknown as RegistryResponse['body'] };
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
