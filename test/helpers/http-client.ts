/** A fetch wrapper that keeps one cookie jar, like a browser tab, and remembers the CSRF token it was given. */
export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export class HttpClient {
  readonly cookies = new Map<string, string>();
  csrfToken = '';

  constructor(public baseUrl: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(this.cookies.size && { cookie: this.cookieHeader }),
        ...(this.csrfToken && { 'x-csrf-token': this.csrfToken }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if (res.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'csrfToken' in parsed) this.csrfToken = String(parsed.csrfToken);
    return { status: res.status, headers: res.headers, body: parsed };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, undefined, headers);
  }

  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', path, body, headers);
  }

  /** A second client holding the same cookie (and token): the same browser talking to another address. */
  sharingSessionWith(baseUrl: string): HttpClient {
    const other = new HttpClient(baseUrl);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    other.csrfToken = this.csrfToken;
    return other;
  }
}

let counter = 0;
/** A username no other test uses. */
export const uniqueName = (prefix = 'user') => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
export const PASSWORD = 'correct horse battery';
