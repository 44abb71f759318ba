import { describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaSkipReason, testKafka, uniqueName } from '../support/kafka.js';

const brokers = kafkaBrokers();

describe.skipIf(!brokers)(
  `the Kafka test broker${brokers ? '' : ` (skipped: ${kafkaSkipReason()})`}`,
  () => {
    it('creates a topic, takes messages and gives them back to a consumer group in order', async () => {
      const kafka = testKafka(brokers!);
      const topic = uniqueName('harness');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await admin.disconnect();

      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      const sent = ['one', 'two', 'three'];
      await producer.send({
        topic,
        acks: -1,
        messages: sent.map((value, i) => ({ key: `k${i}`, value })),
      });
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: uniqueName('harness-group') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: ({ message }) => {
              received.push(message.value?.toString() ?? '');
              if (received.length === sent.length) resolve();
              return Promise.resolve();
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      expect(received).toEqual(sent);
    });
  },
);
