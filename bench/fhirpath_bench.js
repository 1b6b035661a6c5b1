// The same FHIRPath benchmark on the reference JavaScript implementation (npm package fhirpath).
//   node bench/fhirpath_bench.js NODE_MODULES_DIR PATIENT.json OBSERVATION.json EXPRESSIONS.json [SECONDS] [ROUNDS]
const path = require('path');
const fs = require('fs');
const [modules, patientFile, observationFile, expressionsFile, secondsArg, roundsArg] = process.argv.slice(2);
const fhirpath = require(path.join(modules, 'fhirpath'));
const r4 = require(path.join(modules, 'fhirpath/fhir-context/r4'));
const seconds = Number(secondsArg || 1), rounds = Number(roundsArg || 5);
const resources = {
  patient: JSON.parse(fs.readFileSync(patientFile, 'utf8')),
  observation: JSON.parse(fs.readFileSync(observationFile, 'utf8')),
};
const scenarios = JSON.parse(fs.readFileSync(expressionsFile, 'utf8'));
console.log('expression'.padEnd(42) + 'evals/s'.padStart(15));
for (const s of scenarios) {
  const compiled = fhirpath.compile(s.expression, r4);
  const resource = resources[s.resource];
  for (let i = 0; i < 1000; i++) compiled(resource);
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    let n = 0, elapsed = 0;
    while (elapsed < seconds) {
      for (let i = 0; i < 100; i++) compiled(resource);
      n += 100;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    rates.push(n / elapsed);
  }
  rates.sort((a, b) => a - b);
  console.log(s.name.padEnd(42) + Math.round(rates[Math.floor(rates.length / 2)]).toString().padStart(15));
}
