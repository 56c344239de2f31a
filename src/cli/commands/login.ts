/**
 * `peapod login REGISTRY`: checks the credentials against the registry
 * (Bearer token server or Basic auth) and stores them in the auth file
 * (containers-auth.json; see config.ts authFiles), as `podman login` does.
 * `--get-login` prints the stored user name.
 */
import type { CliContext } from '../context';
import { authFiles } from '../config';
import { CliError } from '../errors';
import { promptLine, readStdin } from '../prompt';
import { registryKey } from '../registry-key';

/** Flags of `login`. */
export interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  authfile?: string;
  getLogin?: boolean;
}

/** Runs `login`. @throws CliError (125) when credentials are missing or refused, or the auth file cannot be written. */
export async function run(ctx: CliContext, args: string[], o: LoginOptions): Promise<number> {
  const auth = require('../../image-service/auth-file') as typeof import('../../image-service/auth-file');
  const { key, host } = registryKey(args[0]);
  const files = authFiles(o.authfile);
  try {
    if (o.getLogin) {
      const found = auth.findCredentials([{ path: files.primary }, ...files.fallbacks], key);
      if (!found) throw new CliError(`not logged into ${key}`);
      ctx.io.stdout.write(`${found.username}\n`);
      return 0;
    }
    if (o.password !== undefined && o.passwordStdin) throw new CliError('--password and --password-stdin cannot be used together');
    let username = o.username;
    let password = o.password;
    if (o.passwordStdin) {
      if (!username) throw new CliError('--password-stdin needs --username');
      password = await readStdin(ctx.io);
    }
    const tty = Boolean(ctx.io.stdin.isTTY);
    if (!username) {
      if (!tty) throw new CliError('a user name is needed: give --username (stdin is not a terminal)');
      username = (await promptLine(ctx.io, 'Username: ')).trim();
    }
    if (password === undefined) {
      if (!tty) throw new CliError('a password is needed: give --password or --password-stdin (stdin is not a terminal)');
      password = await promptLine(ctx.io, 'Password: ', true);
    }
    if (!username) throw new CliError('the user name is empty');
    const { RegistryClient, RegistryError, isLoopbackHost } = require('../../image-service/registry-client') as typeof import('../../image-service/registry-client');
    const { loadRegistriesConf } = require('../../image-service/registries-conf') as typeof import('../../image-service/registries-conf');
    const conf = loadRegistriesConf(ctx.config.image.registries_conf, ctx.config.image.registries_conf_dir);
    const insecure = isLoopbackHost(host) || conf.registries.some((r) => (r.prefix === host || r.location === host) && r.insecure);
    const client = new RegistryClient(host, {
      insecure,
      credentials: { username, password },
      connectTimeoutMs: ctx.config.image.connect_timeout * 1000,
      idleTimeoutMs: ctx.config.image.idle_timeout * 1000,
      attempts: 2,
    });
    try {
      await client.checkLogin();
    } catch (err) {
      if (err instanceof RegistryError && err.status === 401) throw new CliError(`logging into "${key}": invalid username/password`);
      throw new CliError(`logging into "${key}": ${(err as Error).message}`);
    } finally {
      await client.close();
    }
    auth.storeCredentials(files.primary, key, username, password);
    ctx.log.debug({ registry: key, file: files.primary }, 'credentials stored');
    ctx.io.stdout.write('Login Succeeded!\n');
    return 0;
  } catch (err) {
    if (err instanceof auth.AuthFileError) throw new CliError(err.message);
    throw err;
  }
}
