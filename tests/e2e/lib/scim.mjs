// A small SCIM 2.0 client, as an IdP would call scimgate's SCIM API.
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export class ScimClient {
  /** @param {string} baseUrl e.g. http://127.0.0.1:PORT/scim/v2 */
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async request(method, path, body) {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: 'application/scim+json',
        ...(body ? { 'content-type': 'application/scim+json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`SCIM ${method} ${path} -> ${response.status}: ${text}`);
    }
    return text ? JSON.parse(text) : undefined;
  }

  /** Create an active user; returns its id. */
  async createUser(userName) {
    const user = await this.request('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName,
      active: true,
      emails: [{ value: `${userName}@example.com`, primary: true }],
    });
    return user.id;
  }

  /** Create a group with these member ids; returns its id. */
  async createGroup(displayName, memberIds = []) {
    const group = await this.request('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName,
      members: memberIds.map((value) => ({ value })),
    });
    return group.id;
  }

  async removeMember(groupId, userId) {
    return this.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'remove', path: `members[value eq "${userId}"]` }],
    });
  }

  /** Okta's way: a path-less replace of `active`. */
  async deactivate(userId) {
    return this.request('PATCH', `/Users/${userId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
  }
}
