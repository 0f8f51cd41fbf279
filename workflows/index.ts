// Every workflow the worker runs. The worker bundles this file; nothing here may do I/O.
export { selfCheck } from './self-check.js';
