export { exitCodes } from './errors.js';
export { buildProgram, main } from './main.js';
