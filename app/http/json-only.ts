/**
 * The API reads JSON bodies only. A body of another type gets 415 before any session is loaded: this is what stops
 * a cross-site `<form>` (text/plain, urlencoded or multipart, which need no CORS preflight) from reaching login or
 * register, so an attacker cannot sign a victim's browser into the attacker's account (login CSRF).
 */
import express, { type RequestHandler } from 'express';
import { HttpError } from './errors.js';

// Strings go to PostgreSQL, whose text type cannot hold U+0000: refuse it as malformed input instead of failing later.
const refuseNul = (_key: string, value: unknown) => {
  if (typeof value === 'string' && value.includes('\u0000')) throw new SyntaxError('NUL character in a string');
  return value;
};

const hasBody = (headers: Record<string, string | string[] | undefined>) =>
  headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;

/** 415 for a non-empty body that is not JSON, then express.json with the size limit. */
export function jsonOnly(limit: string): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) =>
    next(hasBody(req.headers) && !req.is('application/json') ? new HttpError(415, 'Content-Type must be application/json') : undefined);
  return [requireJson, express.json({ limit, reviver: refuseNul })];
}
