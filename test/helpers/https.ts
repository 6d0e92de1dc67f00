/** One HTTPS request trusting a given CA (fetch cannot take a CA without an extra dependency). */
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

export function httpsRequest(
  url: string,
  opts: { ca: string; method?: string; headers?: Record<string, string>; body?: unknown },
): Promise<HttpsReply> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        headers: { ...(body && { 'content-type': 'application/json' }), ...opts.headers },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const json = res.headers['content-type']?.includes('json');
          resolve({ status: res.statusCode!, headers: res.headers, body: json ? JSON.parse(text) : text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}
