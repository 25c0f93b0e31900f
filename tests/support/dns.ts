/**
 * A DNS server the tests control (UDP, on an ephemeral loopback port): it answers A queries from
 * a table the test changes at will, AAAA with no records, anything else NXDOMAIN. Enough to give
 * the gateway's `--resolver` names that resolve where a test wants, and to change that meanwhile.
 */
import { createSocket } from "node:dgram";
import { onCleanup } from "./sandbox.ts";

export interface TestDns {
  /** `host:port`, for --resolver. */
  address: string;
  /** The A records of each name (lower case); change it whenever. */
  records: Map<string, string[]>;
}

function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  while (message[at]! !== 0) {
    const length = message[at]!;
    labels.push(message.toString("latin1", at + 1, at + 1 + length));
    at += length + 1;
  }
  return { name: labels.join(".").toLowerCase(), end: at + 1 };
}

export async function startDns(): Promise<TestDns> {
  const records = new Map<string, string[]>();
  const socket = createSocket("udp4");
  socket.on("message", (query, peer) => {
    const { name, end } = readName(query, 12);
    const type = query.readUInt16BE(end);
    const question = query.subarray(12, end + 4);
    const addresses = records.get(name);
    const answers = type === 1 && addresses ? addresses : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(addresses ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const answerRecords = answers.map((address) => {
      const answer = Buffer.alloc(16);
      answer.writeUInt16BE(0xc00c, 0);
      answer.writeUInt16BE(1, 2);
      answer.writeUInt16BE(1, 4);
      answer.writeUInt32BE(0, 6);
      answer.writeUInt16BE(4, 10);
      for (const [i, part] of address.split(".").entries()) answer.writeUInt8(Number(part), 12 + i);
      return answer;
    });
    socket.send(Buffer.concat([header, question, ...answerRecords]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  onCleanup(() => {
    socket.close();
  });
  return { address: `127.0.0.1:${socket.address().port}`, records };
}
