// Downloads an object with Google's own Node.js client (@google-cloud/storage) from the server
// STORAGE_EMULATOR_HOST names, and prints what it got as JSON: the object's metadata, the
// SHA-256 of the whole object downloaded twice (the client checks it against the x-goog-hash
// header: once the CRC-32C, its default, once the MD5), and the bytes of a range, hex.
// A failure, a checksum mismatch among them, is printed on stderr with exit status 1.
//
//   STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT node gcs-download.js BUCKET OBJECT
'use strict';
const {Storage} = require('@google-cloud/storage');
const crypto = require('crypto');

async function main() {
  const [bucketName, objectName] = process.argv.slice(2);
  const storage = new Storage({projectId: 'macvmorx-tests', retryOptions: {autoRetry: false}});
  const file = storage.bucket(bucketName).file(objectName);
  const [metadata] = await file.getMetadata();
  const sha256 = bytes => crypto.createHash('sha256').update(bytes).digest('hex');
  const [byCrc32c] = await file.download();
  const [byMd5] = await file.download({validation: 'md5'});
  const [range] = await file.download({start: 10, end: 99});
  process.stdout.write(JSON.stringify({
    size: metadata.size,
    generation: metadata.generation,
    crc32c: metadata.crc32c,
    md5Hash: metadata.md5Hash,
    sha256Crc32c: sha256(byCrc32c),
    sha256Md5: sha256(byMd5),
    range: range.toString('hex'),
  }));
}

main().catch(error => {
  process.stderr.write(`${error.code || ''} ${error.message}\n`);
  process.exit(1);
});
