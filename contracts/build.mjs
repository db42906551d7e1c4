// Compiles the stand-in contracts with solcjs and prints (or writes) their
// runtime bytecode. Usage: node contracts/build.mjs <solc module dir> [--check]
// Runtime bytecode because the devnet installs the code with anvil_setCode,
// which never runs a constructor.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require(process.argv[2]);
const check = process.argv.includes('--check');

const sources = {};
for (const file of readdirSync(here).filter((f) => f.endsWith('.sol')).sort()) {
  sources[file] = { content: readFileSync(join(here, file), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'cancun',
    viaIR: true,
    optimizer: { enabled: true, runs: 200 },
    // No metadata hash: the bytecode then depends on the code, not on comments.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['evm.deployedBytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

let drift = false;
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, artifact] of Object.entries(contracts)) {
    const path = join(here, 'out', `${name}.hex`);
    const hex = artifact.evm.deployedBytecode.object + '\n';
    if (check) {
      let current = '';
      try { current = readFileSync(path, 'utf8'); } catch {}
      if (current !== hex) {
        console.error(`DRIFT ${name}: contracts/out/${name}.hex differs from ${file}; run contracts/build.sh`);
        drift = true;
      } else {
        console.log(`ok ${name}`);
      }
    } else {
      writeFileSync(path, hex);
      console.log(`wrote contracts/out/${name}.hex (${(hex.length - 1) / 2} bytes, solc ${solc.version()})`);
    }
  }
}
process.exit(drift ? 2 : 0);
