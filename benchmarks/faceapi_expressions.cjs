// face-api's own expression probabilities for RGB faces, to check the torch port in peer_faceapi.py against.
//
//     node faceapi_expressions.cjs NODE_MODULES FACES_JSON
//
// NODE_MODULES holds @vladmandic/face-api and @tensorflow/tfjs (peer_faceapi.js_probabilities installs them);
// FACES_JSON lists faces as {height, width, rgb: base64 of height * width * 3 bytes}. Each face goes to
// faceExpressionNet.predictExpressions as an int32 tensor, as a decoded image would; the net's weights are loaded
// from the package's own model folder. Prints {labels, probabilities, versions} as JSON.
'use strict';

const fs = require('fs');
const path = require('path');

async function main() {
  const [modules, facesFile] = process.argv.slice(2);
  const packageFolder = path.join(modules, '@vladmandic', 'face-api');
  // The build for Node.js without TensorFlow's native binding: plain TensorFlow.js, on its JavaScript CPU backend.
  const faceapi = require(path.join(packageFolder, 'dist', 'face-api.node-wasm.js'));
  const { tf } = faceapi;
  await tf.setBackend('cpu');
  await tf.ready();
  const net = faceapi.nets.faceExpressionNet;
  await net.loadFromDisk(path.join(packageFolder, 'model'));
  const probabilities = [];
  for (const face of JSON.parse(fs.readFileSync(facesFile, 'utf8'))) {
    const pixels = Int32Array.from(Buffer.from(face.rgb, 'base64'));
    const input = tf.tensor3d(pixels, [face.height, face.width, 3], 'int32');
    const expressions = await net.predictExpressions(input);
    probabilities.push(faceapi.FACE_EXPRESSION_LABELS.map((label) => expressions[label]));
    input.dispose();
  }
  const versions = { faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend() };
  process.stdout.write(JSON.stringify({ labels: faceapi.FACE_EXPRESSION_LABELS, probabilities, versions }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
