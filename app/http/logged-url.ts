/**
 * The request URL as logged: an OAuth callback's query carries a one-time authorization code and the state that
 * guards it (/api/oidc/callback, /api/connections/:provider/callback), so their values are left out of the log.
 */
const SECRET_PARAMS = /([?&](?:code|state)=)[^&#]*/g;

export const loggedUrl = (url: string | undefined): string | undefined => url?.replace(SECRET_PARAMS, '$1[redacted]');
