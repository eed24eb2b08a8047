// The REST client: the envelope, the JWT header, and "token error" sending the page back to login.

import { t } from "./i18n.js";

const TOKEN_KEY = "ctpdesk.token";

export class ApiError extends Error {
  constructor(message, status, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  onExpired: () => {},
  set(token) {
    this.token = token;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

// GET sends its fields as a query string; every other method as a JSON body (the API takes both).
export async function api(method, path, fields) {
  const options = { method, headers: { Accept: "application/json" } };
  let url = path;
  const token = session.token;
  if (token) options.headers.Authorization = `JWT ${token}`;
  if (fields !== undefined && method === "GET") {
    url += "?" + new URLSearchParams(fields).toString();
  } else if (fields !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(fields);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError(t("api.unreachable", { msg: error.message }), 0, null);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(t("api.unexpected", { status: response.status }), response.status, null);
  }
  // A refused token ends the session it belongs to; a request sent before a logout and a new login, answered
  // after them, must not end the new one.
  if (response.status === 401 && path !== "/login" && token === session.token) {
    session.onExpired();
  }
  if (!body.success) throw new ApiError(body.msg || `HTTP ${response.status}`, response.status, body.data);
  return body.data;
}
