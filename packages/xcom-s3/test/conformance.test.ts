import { describeObjectStore } from '@xcom/testing'
import { S3ObjectStore } from '../src/index.ts'
import { describeOnAws, useS3rver } from './support.ts'

// s3rver: started here, before the suite's own beforeAll builds the store.
const local = useS3rver()
// The suite's small page size is not passed to s3rver: s3rver walks its directories instead of sorting keys, so a
// listing that spans pages skips keys like "list/p-sibling/y" that sort before "list/p/..." ('-' < '/') but are
// walked after them. Real S3 sorts by bytes; the AWS run below and store.test.ts page with small pages.
describeObjectStore('S3ObjectStore on s3rver', () => {
  const target = local()
  if (!target)
    throw new Error('s3rver did not start (see the warning above); under CI=true this fails the run.')
  return new S3ObjectStore(target.options)
})

describeOnAws('ObjectStore conformance', (aws) => {
  describeObjectStore('S3ObjectStore', ({ pageSize }) => new S3ObjectStore({ ...aws.options, pageSize }))
})
