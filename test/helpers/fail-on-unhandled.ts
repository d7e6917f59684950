/** Any unhandled rejection or uncaught exception fails the run instead of scrolling past. */
const failures: unknown[] = [];
const record = (error: unknown): void => {
  failures.push(error);
};
process.on('unhandledRejection', record);
process.on('uncaughtException', record);
afterAll(() => {
  process.off('unhandledRejection', record);
  process.off('uncaughtException', record);
  if (failures.length > 0)
    throw new Error(`unhandled errors during the tests: ${failures.map(String).join('; ')}`);
});
