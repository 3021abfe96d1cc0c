// Count encoding and segments with Twilio's message-segment-calculator, as an independent check.
// Reads a JSON array of texts on stdin; writes a JSON array of {encoding, segments} to stdout.
const { SegmentedMessage } = require('sms-segments-calculator');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const texts = JSON.parse(input);
  const out = texts.map((text) => {
    const message = new SegmentedMessage(text);
    return { encoding: message.encodingName, segments: message.segmentsCount };
  });
  process.stdout.write(JSON.stringify(out));
});
