// GET /sdk.js: a stand-in for connect.facebook.net/en_US/sdk.js with just what Embedded Signup
// uses: FB.init, FB.login (a popup on the sandbox dialog) and a call to window.fbAsyncInit.

export function sdkScript(sandboxOrigin: string, defaultVersion: string): string {
  return `/* Sandbox Meta JS SDK stand-in: FB.init, FB.login (Embedded Signup popup), FB.getLoginStatus. */
(function () {
  'use strict';
  var ORIGIN = ${JSON.stringify(sandboxOrigin)};
  var settings = { appId: null, version: ${JSON.stringify(defaultVersion)} };
  var pending = null;

  function finish(response) {
    if (!pending) return;
    var current = pending;
    pending = null;
    clearInterval(current.timer);
    try { if (!current.popup.closed) current.popup.close(); } catch (e) { /* already gone */ }
    current.callback(response);
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== ORIGIN || !pending) return;
    var data = event.data;
    if (data && typeof data === 'object' && data.type === 'SANDBOX_FB_LOGIN_RESPONSE') finish(data.response);
  });

  var FB = {
    init: function (options) {
      options = options || {};
      settings.appId = options.appId == null ? null : String(options.appId);
      if (options.version) settings.version = options.version;
    },
    login: function (callback, options) {
      options = options || {};
      if (pending) finish({ authResponse: null, status: 'unknown' });
      var query = new URLSearchParams({
        client_id: settings.appId || '',
        display: 'popup',
        response_type: options.response_type || 'code',
        origin: window.location.origin
      });
      if (options.config_id) query.set('config_id', options.config_id);
      if (options.scope) query.set('scope', options.scope);
      if (options.override_default_response_type) query.set('override_default_response_type', 'true');
      if (options.extras) query.set('extras', JSON.stringify(options.extras));
      var popup = window.open(ORIGIN + '/' + settings.version + '/dialog/oauth?' + query.toString(), 'sandbox_fb_login', 'width=600,height=720');
      if (!popup) {
        callback({ authResponse: null, status: 'unknown' });
        return;
      }
      pending = {
        callback: typeof callback === 'function' ? callback : function () {},
        popup: popup,
        timer: setInterval(function () {
          if (pending && pending.popup.closed) finish({ authResponse: null, status: 'unknown' });
        }, 500)
      };
    },
    getLoginStatus: function (callback) { callback({ status: 'unknown', authResponse: null }); },
    getAuthResponse: function () { return null; },
    logout: function (callback) { if (callback) callback({ status: 'unknown', authResponse: null }); },
    AppEvents: { logPageView: function () {}, logEvent: function () {} },
    XFBML: { parse: function () {} }
  };
  window.FB = FB;
  if (typeof window.fbAsyncInit === 'function') setTimeout(window.fbAsyncInit, 0);
})();
`;
}
