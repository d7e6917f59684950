'use strict';
/**
 * Lets plain Node scripts (test/fixtures/capture.js, bench/soak.js) require the TypeScript test
 * helpers without ts-node: .ts files are transpiled on load with the project's own typescript.
 */
const fs = require('node:fs');
const path = require('node:path');

const ts = require(path.resolve(__dirname, '..', '..', 'node_modules', 'typescript'));

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
    fileName: filename,
  });
  module._compile(outputText, filename);
};
