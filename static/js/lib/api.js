// JSON over fetch for the REST API: the session cookie, Django's CSRF token on writes, and
// one error type. The API answers errors as {code, detail} (one DRF exception handler);
// a failed request throws ApiError with those, status 0 when the network failed.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || (status ? `Request failed (${status})` : "Network error"));
    this.status = status;
    this.code = code || "";
    this.detail = detail || "";
  }
}

// The token a page renders with {% csrf_token %}.
export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export async function api(url, {method = "GET", body} = {}) {
  const headers = {Accept: "application/json"};
  const init = {method, credentials: "same-origin", headers};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (_) {
    throw new ApiError(0, "network", "");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data && data.code, data && data.detail);
  return data;
}
