// Loaded by path (require) into the workflow bundle, the worker and the client: failure messages and
// stack traces then travel as payloads, so the payload codec encrypts them like any input or result.
// Plain CommonJS because the SDK require()s this file, from the sources in tests and from dist/.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
