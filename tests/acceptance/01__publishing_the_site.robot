*** Settings ***
Documentation       Building and publishing the knowledge-base site.
Resource            fibery_kb.resource
Test Setup          Start in an empty folder
Test Teardown       Clean up


*** Test Cases ***
A new user builds the demo site
    [Documentation]    Someone who just installed fibery-kb, with no Fibery account yet,
    ...    follows the README's quick start and gets a complete site.
    [Tags]    demo    offline
    Given fibery-kb is installed and the user is in an empty folder
    When the user builds the demo site
    Then the build succeeds and reports 4 databases and 33 entities
    And the build sent no request to Fibery
    And the site has a home page titled "Nursery Knowledge Base"
    And every link in the site works

A scheduled build against Fibery publishes every database
    [Documentation]    The Pages workflow's scheduled run reads the whole space from Fibery
    ...    and publishes all of it, without ever exceeding Fibery's rate limit or leaking
    ...    the API token.
    [Tags]    fibery
    Given Fibery holds the nursery's knowledge base
    When the scheduled build runs
    Then the build succeeds and reports 4 databases and 33 entities
    And every database and every entity in Fibery has its page on the site
    And Fibery never had to refuse a request for going too fast
    And the token appears nowhere in the site or in the build's output

A wrong token fails clearly and keeps the old site
    [Documentation]    A revoked or mistyped token stops the build with one clear line,
    ...    and visitors keep seeing the site published before.
    [Tags]    fibery    failure
    Given Fibery holds the nursery's knowledge base
    And the site was published before
    When the scheduled build runs with a wrong token
    Then the build fails with exit code 3, saying "Fibery rejected the token (401 Unauthorized)"
    And the error is one line that says which setting to check, with no traceback
    And the published site is exactly as it was before
